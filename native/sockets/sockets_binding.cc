// N-API glue for the supervisor-side socket functions of native/index.ts (everything in `Native`
// except ControlChannel, Dataplane and parseFrame).
#include <napi.h>
#include <arpa/inet.h>

#include <climits>
#include <optional>
#include <string>

#include "sockets/descriptors.h"
#include "sockets/egress_socket.h"
#include "sockets/interfaces.h"
#include "common/js_glue.h"
#include "sockets/membership.h"
#include "sockets/packet_socket.h"

namespace mcr {

namespace {

// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
constexpr size_t kMaxBpfInsns = 4096;

// A BpfInsn[] ([code, jt, jf, k] tuples) as the kernel's sock_filter array.
BpfProgram ProgramValue(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, name + " must be an array of [code, jt, jf, k]");
  Napi::Array insns = value.As<Napi::Array>();
  if (insns.Length() < 1 || insns.Length() > kMaxBpfInsns) {
    throw Napi::TypeError::New(env, name + " must hold 1.." + std::to_string(kMaxBpfInsns) + " instructions");
  }
  BpfProgram program(insns.Length());
  for (uint32_t i = 0; i < insns.Length(); ++i) {
    const std::string at = name + "[" + std::to_string(i) + "]";
    Napi::Value insn = insns.Get(i);
    if (!insn.IsArray() || insn.As<Napi::Array>().Length() != 4) {
      throw Napi::TypeError::New(env, at + " must be an array [code, jt, jf, k]");
    }
    Napi::Array fields = insn.As<Napi::Array>();
    program[i].code = static_cast<uint16_t>(IntegerIn(env, fields.Get(0u), at + ".code", 0, UINT16_MAX));
    program[i].jt = static_cast<uint8_t>(IntegerIn(env, fields.Get(1u), at + ".jt", 0, UINT8_MAX));
    program[i].jf = static_cast<uint8_t>(IntegerIn(env, fields.Get(2u), at + ".jf", 0, UINT8_MAX));
    program[i].k = static_cast<uint32_t>(IntegerIn(env, fields.Get(3u), at + ".k", 0, UINT32_MAX));
  }
  return program;
}

// An IPv4 (dotted quad) or IPv6 (RFC 4291 text) address, or nothing when `value` is neither.
std::optional<IpAddress> AddressValue(Napi::Value value) {
  if (!value.IsString()) return std::nullopt;
  return IpAddress::Parse(value.As<Napi::String>().Utf8Value());
}

// `group` of joinGroup/leaveGroup: an IPv4 or IPv6 multicast address, which says the membership's family.
IpAddress GroupValue(Napi::Env env, Napi::Value value) {
  const std::optional<IpAddress> group = AddressValue(value);
  if (!group || !group->IsMulticast()) {
    throw Napi::TypeError::New(env, "group must be an IPv4 or IPv6 multicast address");
  }
  return *group;
}

// `source` of joinGroup/leaveGroup: absent or '' for any source, else a unicast address of the group's family.
std::optional<IpAddress> SourceValue(Napi::Env env, Napi::Value value, const IpAddress& group) {
  if (value.IsUndefined() || (value.IsString() && value.As<Napi::String>().Utf8Value().empty())) return std::nullopt;
  const std::optional<IpAddress> source = AddressValue(value);
  if (!source || source->Family() != group.Family() || !source->IsHost()) {
    throw Napi::TypeError::New(
        env, std::string("source must be a unicast ") + FamilyName(group.Family()) + " address, as the group is");
  }
  return source;
}

int IfindexValue(Napi::Env env, Napi::Value value, const std::string& name) {
  return static_cast<int>(IntegerIn(env, value, name, 1, INT_MAX));
}

int BufferSizeValue(Napi::Env env, Napi::Value value, const std::string& name) {
  return static_cast<int>(IntegerIn(env, value, name, 1, INT_MAX));
}

Napi::Value OpenPacketSocketJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object options = ObjectValue(env, info[0], "options");
  const int ifindex = IfindexValue(env, options.Get("ifindex"), "options.ifindex");
  const int rcvbuf = BufferSizeValue(env, options.Get("rcvbuf"), "options.rcvbuf");
  // Either a classic program (`filter`) or a loaded eBPF socket filter (`program`, its fd).
  if (!options.Get("program").IsUndefined()) {
    if (!options.Get("filter").IsUndefined()) throw Napi::TypeError::New(env, "options take filter or program, not both");
    const int program = FdValue(env, options.Get("program"), "options.program");
    return TranslateErrors(env, [&] { return Napi::Number::New(env, OpenPacketSocketWithProgram(ifindex, rcvbuf, program)); });
  }
  const BpfProgram filter = ProgramValue(env, options.Get("filter"), "options.filter");
  return TranslateErrors(env, [&] { return Napi::Number::New(env, OpenPacketSocket(ifindex, rcvbuf, filter)); });
}

void AttachFilterJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  const BpfProgram program = ProgramValue(env, info[1], "program");
  TranslateErrors(env, [&] { AttachFilter(fd, program); });
}

void SetReceiveTimestampsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  const bool on = BooleanValue(env, info[1], "on");
  TranslateErrors(env, [&] { SetReceiveTimestamps(fd, on); });
}

void SetVlanTagsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  const bool on = BooleanValue(env, info[1], "on");
  TranslateErrors(env, [&] { SetVlanTags(fd, on); });
}

Napi::Value PacketStatisticsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  const PacketSocketStats stats = TranslateErrors(env, [&] { return ReadPacketStatistics(fd); });
  Napi::Object result = Napi::Object::New(env);
  result.Set("packets", Napi::Number::New(env, stats.packets));
  result.Set("drops", Napi::Number::New(env, stats.drops));
  return result;
}

Napi::Value OpenEgressSocketJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object options = ObjectValue(env, info[0], "options");
  EgressSpec spec;
  spec.ifname = InterfaceNameValue(env, options.Get("ifname"), "options.ifname");
  spec.ifindex = IfindexValue(env, options.Get("ifindex"), "options.ifindex");
  spec.ttl = static_cast<int>(IntegerIn(env, options.Get("ttl"), "options.ttl", 1, 255));
  spec.tos = static_cast<int>(IntegerIn(env, options.Get("tos"), "options.tos", 0, 255));
  spec.sndbuf = BufferSizeValue(env, options.Get("sndbuf"), "options.sndbuf");
  spec.dontFragment = BooleanValue(env, options.Get("dontFragment"), "options.dontFragment");
  const Napi::Value family = options.Get("family");
  if (!family.IsUndefined()) {
    const int64_t version = IntegerIn(env, family, "options.family", 4, 6);
    if (version == 5) throw Napi::TypeError::New(env, "options.family must be 4 or 6");
    spec.family = version == 6 ? AF_INET6 : AF_INET;
  }
  const Napi::Value source = options.Get("source");
  const bool anySource = source.IsUndefined() || (source.IsString() && source.As<Napi::String>().Utf8Value().empty());
  if (!anySource) {
    spec.source = AddressValue(source);
    if (!spec.source || spec.source->Family() != spec.family) {
      throw Napi::TypeError::New(env, std::string("options.source must be an ") + (spec.family == AF_INET6 ? "IPv6" : "IPv4") +
                                          " address, as options.family is " + (spec.family == AF_INET6 ? "6" : "4"));
    }
  }
  const Napi::Value protocol = options.Get("protocol");
  if (!protocol.IsUndefined()) {
    const std::string name = protocol.IsString() ? protocol.As<Napi::String>().Utf8Value() : "";
    if (name != "udp" && name != "esp") throw Napi::TypeError::New(env, "options.protocol must be 'udp' or 'esp'");
    spec.esp = name == "esp";
  }
  return TranslateErrors(env, [&] { return Napi::Number::New(env, OpenEgressSocket(spec)); });
}

void SetSendBufferJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  const int bytes = BufferSizeValue(env, info[1], "bytes");
  TranslateErrors(env, [&] { SetEgressSendBuffer(fd, bytes); });
}

// openMembershipSocket(family?): 4 (the default) or 6.
Napi::Value OpenMembershipSocketJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value family = info[0];
  const double number = family.IsNumber() ? family.As<Napi::Number>().DoubleValue() : 0;
  if (!family.IsUndefined() && number != 4 && number != 6) throw Napi::TypeError::New(env, "family must be 4 or 6");
  const int domain = number == 6 ? AF_INET6 : AF_INET;
  return TranslateErrors(env, [&] { return Napi::Number::New(env, OpenMembershipSocket(domain)); });
}

// joinGroup / leaveGroup share their arguments: (fd, group, ifindex, source?).
template <void (*Change)(int, const IpAddress&, int, const std::optional<IpAddress>&)>
void MembershipJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  const IpAddress group = GroupValue(env, info[1]);
  const int ifindex = IfindexValue(env, info[2], "ifindex");
  const std::optional<IpAddress> source = SourceValue(env, info[3], group);
  TranslateErrors(env, [&] { Change(fd, group, ifindex, source); });
}

void CloseFdJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  TranslateErrors(env, [&] { CloseFd(fd); });
}

Napi::Value IfNameToIndexJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = InterfaceNameValue(env, info[0], "name");
  return TranslateErrors(env, [&] { return Napi::Number::New(env, IfNameToIndex(name)); });
}

Napi::Value SocketpairJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::pair<int, int> pair = TranslateErrors(env, [] { return SeqpacketPair(); });
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, pair.first));
  result.Set(1u, Napi::Number::New(env, pair.second));
  return result;
}

void SetInheritableJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdValue(env, info[0], "fd");
  TranslateErrors(env, [&] { SetInheritable(fd); });
}

}  // namespace

void InitEbpfFilter(Napi::Env env, Napi::Object exports);
void InitMembershipBatch(Napi::Env env, Napi::Object exports);

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("openPacketSocket", Napi::Function::New(env, OpenPacketSocketJs, "openPacketSocket"));
  exports.Set("attachFilter", Napi::Function::New(env, AttachFilterJs, "attachFilter"));
  exports.Set("setReceiveTimestamps", Napi::Function::New(env, SetReceiveTimestampsJs, "setReceiveTimestamps"));
  exports.Set("setVlanTags", Napi::Function::New(env, SetVlanTagsJs, "setVlanTags"));
  exports.Set("packetStatistics", Napi::Function::New(env, PacketStatisticsJs, "packetStatistics"));
  exports.Set("openEgressSocket", Napi::Function::New(env, OpenEgressSocketJs, "openEgressSocket"));
  exports.Set("setSendBuffer", Napi::Function::New(env, SetSendBufferJs, "setSendBuffer"));
  exports.Set("openMembershipSocket", Napi::Function::New(env, OpenMembershipSocketJs, "openMembershipSocket"));
  exports.Set("joinGroup", Napi::Function::New(env, MembershipJs<JoinGroup>, "joinGroup"));
  exports.Set("leaveGroup", Napi::Function::New(env, MembershipJs<LeaveGroup>, "leaveGroup"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFdJs, "closeFd"));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndexJs, "ifNameToIndex"));
  exports.Set("socketpair", Napi::Function::New(env, SocketpairJs, "socketpair"));
  exports.Set("setInheritable", Napi::Function::New(env, SetInheritableJs, "setInheritable"));
  InitEbpfFilter(env, exports);
  InitMembershipBatch(env, exports);
}

}  // namespace mcr
