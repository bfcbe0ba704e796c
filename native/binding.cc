// The addon's entry point: each part registers its own exports.
#include <napi.h>

namespace mcr {
void InitSockets(Napi::Env env, Napi::Object exports);
void InitControlChannel(Napi::Env env, Napi::Object exports);
void InitDataplane(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitSecurity(Napi::Env env, Napi::Object exports);
void InitSystem(Napi::Env env, Napi::Object exports);
}  // namespace mcr

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mcr::InitSockets(env, exports);
  mcr::InitControlChannel(env, exports);
  mcr::InitDataplane(env, exports);
  mcr::InitNetlink(env, exports);
  mcr::InitSecurity(env, exports);
  mcr::InitSystem(env, exports);
  return exports;
}

NODE_API_MODULE(mcr, Init)
