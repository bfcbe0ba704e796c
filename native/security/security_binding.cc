// N-API glue for the worker's confinement: applyWorkerSeccomp, workerSeccompProgram and the
// probeConfinement test hook (native/index.ts).
#include <napi.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/js_glue.h"
#include "security/confinement.h"
#include "security/confinement_probe.h"
#include "security/worker_policy.h"

namespace mcr {

namespace {

void ApplyWorkerSeccompJs(const Napi::CallbackInfo& info) {
  TranslateErrors(info.Env(), [] { ConfineWorker(); });
}

// The program as BpfInsn[] ([code, jt, jf, k] tuples).
Napi::Value WorkerSeccompProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SeccompProgram program = TranslateErrors(env, [] { return WorkerSeccompProgram(getpid()); });
  Napi::Array result = Napi::Array::New(env, program.size());
  for (uint32_t i = 0; i < program.size(); ++i) {
    Napi::Array insn = Napi::Array::New(env, 4);
    insn.Set(0u, Napi::Number::New(env, program[i].code));
    insn.Set(1u, Napi::Number::New(env, program[i].jt));
    insn.Set(2u, Napi::Number::New(env, program[i].jf));
    insn.Set(3u, Napi::Number::New(env, program[i].k));
    result.Set(i, insn);
  }
  return result;
}

Napi::Value ProbeConfinementJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int packet_fd = FdValue(env, info[0], "packetFd");
  const std::vector<ProbeAttempt> attempts = ProbeConfinement(packet_fd);
  Napi::Array result = Napi::Array::New(env, attempts.size());
  for (uint32_t i = 0; i < attempts.size(); ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("attempt", Napi::String::New(env, attempts[i].attempt));
    if (attempts[i].err == 0) {
      entry.Set("error", env.Null());
    } else {
      const char* name = ErrnoName(attempts[i].err);
      entry.Set("error", Napi::String::New(env, name ? name : "E" + std::to_string(attempts[i].err)));
    }
    result.Set(i, entry);
  }
  return result;
}

}  // namespace

void InitSecurity(Napi::Env env, Napi::Object exports) {
  exports.Set("applyWorkerSeccomp", Napi::Function::New(env, ApplyWorkerSeccompJs, "applyWorkerSeccomp"));
  exports.Set("workerSeccompProgram", Napi::Function::New(env, WorkerSeccompProgramJs, "workerSeccompProgram"));
  exports.Set("probeConfinement", Napi::Function::New(env, ProbeConfinementJs, "probeConfinement"));
}

}  // namespace mcr
