// N-API glue for the eBPF capture filter (native/index.ts: createCaptureMap ... testRunCaptureProgram).
#include <napi.h>

#include <string>
#include <vector>

#include "common/js_glue.h"
#include "sockets/ebpf_filter.h"

namespace mcr {

namespace {

// The largest map a capture filter asks for (keys per socket).
constexpr int64_t kMaxCapacity = 1 << 24;

// A Uint32Array of (group, port | vlan << 16, source) triples, host byte order, as capture keys.
std::vector<CaptureKey> KeysValue(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, name + " must be a Uint32Array of (group, port | vlan << 16, source) triples");
  }
  Napi::Uint32Array array = value.As<Napi::Uint32Array>();
  if (array.ElementLength() % 3 != 0) throw Napi::TypeError::New(env, name + " must hold whole (group, port | vlan << 16, source) triples");
  std::vector<CaptureKey> keys(array.ElementLength() / 3);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint32_t portAndVlan = array[3 * i + 1];
    const uint32_t vlan = portAndVlan >> 16;
    if (vlan > 4094) throw Napi::TypeError::New(env, name + "[" + std::to_string(3 * i + 1) + "] must hold a VLAN ID 0..4094 in its high 16 bits");
    keys[i] = CaptureKey{array[3 * i], static_cast<uint16_t>(portAndVlan & 0xffff), static_cast<uint16_t>(vlan), array[3 * i + 2]};
  }
  return keys;
}

Napi::Value CreateCaptureMapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto capacity = static_cast<uint32_t>(IntegerIn(env, info[0], "capacity", 1, kMaxCapacity));
  return TranslateErrors(env, [&] { return Napi::Number::New(env, CreateCaptureMap(capacity)); });
}

Napi::Value LoadCaptureProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int map = FdValue(env, info[0], "mapFd");
  return TranslateErrors(env, [&] { return Napi::Number::New(env, LoadCaptureProgram(map)); });
}

// updateCaptureMap(mapFd, keys, { oneByOne? }): oneByOne forces the path of kernels without batch updates.
void UpdateCaptureMapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int map = FdValue(env, info[0], "mapFd");
  const std::vector<CaptureKey> keys = KeysValue(env, info[1], "keys");
  bool one_by_one = false;
  if (info[2].IsObject()) {
    const Napi::Value option = info[2].As<Napi::Object>().Get("oneByOne");
    if (!option.IsUndefined() && !option.IsBoolean()) throw Napi::TypeError::New(env, "options.oneByOne must be a boolean");
    one_by_one = option.IsBoolean() && option.As<Napi::Boolean>().Value();
  } else if (!info[2].IsUndefined()) {
    throw Napi::TypeError::New(env, "options must be an object");
  }
  TranslateErrors(env, [&] { UpdateCaptureMap(map, keys, one_by_one); });
}

void DeleteFromCaptureMapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int map = FdValue(env, info[0], "mapFd");
  const std::vector<CaptureKey> keys = KeysValue(env, info[1], "keys");
  TranslateErrors(env, [&] { DeleteFromCaptureMap(map, keys); });
}

void AttachCaptureProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int socket = FdValue(env, info[0], "fd");
  const int program = FdValue(env, info[1], "programFd");
  TranslateErrors(env, [&] { AttachCaptureProgram(socket, program); });
}

Napi::Value TestRunCaptureProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int program = FdValue(env, info[0], "programFd");
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "frame must be a Buffer");
  Napi::Buffer<uint8_t> frame = info[1].As<Napi::Buffer<uint8_t>>();
  return TranslateErrors(env, [&] {
    return Napi::Number::New(env, TestRunCaptureProgram(program, frame.Data(), frame.Length()));
  });
}

Napi::Value TimeCaptureProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int program = FdValue(env, info[0], "programFd");
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "frame must be a Buffer");
  Napi::Buffer<uint8_t> frame = info[1].As<Napi::Buffer<uint8_t>>();
  const auto repeat = static_cast<uint32_t>(IntegerIn(env, info[2], "repeat", 1, 100'000'000));
  return TranslateErrors(env, [&] {
    return Napi::Number::New(env, TimeCaptureProgram(program, frame.Data(), frame.Length(), repeat));
  });
}

}  // namespace

void InitEbpfFilter(Napi::Env env, Napi::Object exports) {
  exports.Set("createCaptureMap", Napi::Function::New(env, CreateCaptureMapJs, "createCaptureMap"));
  exports.Set("loadCaptureProgram", Napi::Function::New(env, LoadCaptureProgramJs, "loadCaptureProgram"));
  exports.Set("updateCaptureMap", Napi::Function::New(env, UpdateCaptureMapJs, "updateCaptureMap"));
  exports.Set("deleteFromCaptureMap", Napi::Function::New(env, DeleteFromCaptureMapJs, "deleteFromCaptureMap"));
  exports.Set("attachCaptureProgram", Napi::Function::New(env, AttachCaptureProgramJs, "attachCaptureProgram"));
  exports.Set("testRunCaptureProgram", Napi::Function::New(env, TestRunCaptureProgramJs, "testRunCaptureProgram"));
  exports.Set("timeCaptureProgram", Napi::Function::New(env, TimeCaptureProgramJs, "timeCaptureProgram"));
}

}  // namespace mcr
