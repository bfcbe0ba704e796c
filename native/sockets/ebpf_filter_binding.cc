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

// The keys argument: a Uint32Array, whose words KeysOf splits into keys of the map's family.
Napi::Uint32Array KeysArray(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, name + " must be a Uint32Array of capture keys");
  }
  return value.As<Napi::Uint32Array>();
}

// An IPv6 address's four words (each its bytes read big-endian) as its 16 bytes.
void AddressBytes(const uint32_t* words, uint8_t* bytes) {
  for (int i = 0; i < 4; ++i) {
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<uint8_t>(words[i] >> (24 - 8 * b));
  }
}

// One key from its words: IPv4 (group, port | vlan << 16, source), host byte order; IPv6 (group[4],
// port | vlan << 16, source[4]), each address word its bytes read big-endian.
struct Ipv4Words {
  static constexpr size_t kWords = 3;
  static constexpr size_t kPortWord = 1;
  static constexpr const char* kShape = "(group, port | vlan << 16, source) triples";
  static CaptureKey Make(const uint32_t* w, uint16_t port, uint16_t vlan) { return CaptureKey{w[0], port, vlan, w[2]}; }
};
struct Ipv6Words {
  static constexpr size_t kWords = 9;
  static constexpr size_t kPortWord = 4;
  static constexpr const char* kShape = "(group[4], port | vlan << 16, source[4]) IPv6 keys of 9 words";
  static CaptureKey6 Make(const uint32_t* w, uint16_t port, uint16_t vlan) {
    CaptureKey6 key{};
    AddressBytes(w, key.group);
    AddressBytes(w + 5, key.source);
    key.port = port;
    key.vlan = vlan;
    return key;
  }
};

template <typename Words>
auto KeysOf(Napi::Env env, Napi::Uint32Array array, const std::string& name) {
  if (array.ElementLength() % Words::kWords != 0) throw Napi::TypeError::New(env, name + " must hold whole " + Words::kShape);
  std::vector<decltype(Words::Make(nullptr, 0, 0))> keys(array.ElementLength() / Words::kWords);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint32_t* words = array.Data() + Words::kWords * i;
    const uint32_t portAndVlan = words[Words::kPortWord];
    const uint32_t vlan = portAndVlan >> 16;
    if (vlan > 4094) {
      throw Napi::TypeError::New(env, name + "[" + std::to_string(Words::kWords * i + Words::kPortWord) + "] must hold a VLAN ID 0..4094 in its high 16 bits");
    }
    keys[i] = Words::Make(words, static_cast<uint16_t>(portAndVlan & 0xffff), static_cast<uint16_t>(vlan));
  }
  return keys;
}

Napi::Value CreateCaptureMapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto capacity = static_cast<uint32_t>(IntegerIn(env, info[0], "capacity", 1, kMaxCapacity));
  CaptureFamily family = CaptureFamily::kIpv4;
  if (!info[1].IsUndefined()) {
    const int64_t version = IntegerIn(env, info[1], "family", 4, 6);
    if (version == 5) throw Napi::TypeError::New(env, "family must be 4 or 6");
    family = static_cast<CaptureFamily>(version);
  }
  return TranslateErrors(env, [&] { return Napi::Number::New(env, CreateCaptureMap(capacity, family)); });
}

Napi::Value LoadCaptureProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int map = FdValue(env, info[0], "mapFd");
  const int map6 = info[1].IsUndefined() ? -1 : FdValue(env, info[1], "map6Fd");
  return TranslateErrors(env, [&] { return Napi::Number::New(env, LoadCaptureProgram(map, map6)); });
}

// updateCaptureMap(mapFd, keys, { oneByOne? }): oneByOne forces the path of kernels without batch
// updates. The keys are read as the map's family (its key size) says, so that they cannot be read
// with the other's layout.
void UpdateCaptureMapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int map = FdValue(env, info[0], "mapFd");
  const Napi::Uint32Array keys = KeysArray(env, info[1], "keys");
  bool one_by_one = false;
  if (info[2].IsObject()) {
    const Napi::Value option = info[2].As<Napi::Object>().Get("oneByOne");
    if (!option.IsUndefined() && !option.IsBoolean()) throw Napi::TypeError::New(env, "options.oneByOne must be a boolean");
    one_by_one = option.IsBoolean() && option.As<Napi::Boolean>().Value();
  } else if (!info[2].IsUndefined()) {
    throw Napi::TypeError::New(env, "options must be an object");
  }
  TranslateErrors(env, [&] {
    if (CaptureMapFamily(map) == CaptureFamily::kIpv6) UpdateCaptureMap(map, KeysOf<Ipv6Words>(env, keys, "keys"), one_by_one);
    else UpdateCaptureMap(map, KeysOf<Ipv4Words>(env, keys, "keys"), one_by_one);
  });
}

void DeleteFromCaptureMapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int map = FdValue(env, info[0], "mapFd");
  const Napi::Uint32Array keys = KeysArray(env, info[1], "keys");
  TranslateErrors(env, [&] {
    if (CaptureMapFamily(map) == CaptureFamily::kIpv6) DeleteFromCaptureMap(map, KeysOf<Ipv6Words>(env, keys, "keys"));
    else DeleteFromCaptureMap(map, KeysOf<Ipv4Words>(env, keys, "keys"));
  });
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
