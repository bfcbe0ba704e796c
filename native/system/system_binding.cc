// N-API glue for what Node cannot tell or set about the process itself: allowedCpus, raiseFileLimit
// (native/index.ts).
#include <napi.h>

#include "common/js_glue.h"
#include "system/cpus.h"
#include "system/file_limit.h"

namespace mcr {

namespace {

Napi::Value AllowedCpusJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int> cpus = TranslateErrors(env, [] { return AllowedCpus(); });
  Napi::Array result = Napi::Array::New(env, cpus.size());
  for (uint32_t i = 0; i < cpus.size(); ++i) result.Set(i, Napi::Number::New(env, cpus[i]));
  return result;
}

Napi::Value RaiseFileLimitJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double wanted = info[0].As<Napi::Number>().DoubleValue();
  const FileLimit limit = TranslateErrors(env, [&] { return RaiseFileLimit(static_cast<uint64_t>(wanted)); });
  Napi::Object result = Napi::Object::New(env);
  result.Set("soft", Napi::Number::New(env, static_cast<double>(limit.soft)));
  result.Set("hard", Napi::Number::New(env, static_cast<double>(limit.hard)));
  return result;
}

}  // namespace

void InitSystem(Napi::Env env, Napi::Object exports) {
  exports.Set("allowedCpus", Napi::Function::New(env, AllowedCpusJs, "allowedCpus"));
  exports.Set("raiseFileLimit", Napi::Function::New(env, RaiseFileLimitJs, "raiseFileLimit"));
}

}  // namespace mcr
