// N-API glue for what Node cannot tell about the process itself: allowedCpus (native/index.ts).
#include <napi.h>

#include "common/js_glue.h"
#include "system/cpus.h"

namespace mcr {

namespace {

Napi::Value AllowedCpusJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int> cpus = TranslateErrors(env, [] { return AllowedCpus(); });
  Napi::Array result = Napi::Array::New(env, cpus.size());
  for (uint32_t i = 0; i < cpus.size(); ++i) result.Set(i, Napi::Number::New(env, cpus[i]));
  return result;
}

}  // namespace

void InitSystem(Napi::Env env, Napi::Object exports) {
  exports.Set("allowedCpus", Napi::Function::New(env, AllowedCpusJs, "allowedCpus"));
}

}  // namespace mcr
