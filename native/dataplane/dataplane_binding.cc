// N-API glue for the data plane: the Dataplane class and parseFrame of native/index.ts.
// Arguments are validated here (TypeError); the work is done by Engine and ParseFrame.
#include <napi.h>
#include <arpa/inet.h>
#include <sched.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/engine.h"
#include "dataplane/parser.h"
#include "dataplane/trace_ring.h"
#include "common/js_glue.h"

namespace mcr {

namespace {

// Runs `body`, turning a rejected argument (unknown handle, duplicate key...) into a TypeError and
// every other failure into an Error as TranslateErrors does.
template <typename Body>
auto Guarded(Napi::Env env, Body&& body) -> decltype(body()) {
  return TranslateErrors(env, [&]() -> decltype(body()) {
    try {
      return body();
    } catch (const std::invalid_argument& e) {
      throw Napi::TypeError::New(env, e.what());
    }
  });
}

uint32_t HandleValue(Napi::Env env, Napi::Value value, const std::string& name) {
  return static_cast<uint32_t>(IntegerIn(env, value, name, 0, UINT32_MAX));
}

// An IPv4 (dotted quad) or IPv6 address, IPv4 mapped as the table keys it.
IpAddress AddressValue(Napi::Env env, Napi::Value value, const std::string& name) {
  if (value.IsString()) {
    if (const std::optional<IpAddress> address = IpAddress::Parse(value.As<Napi::String>().Utf8Value())) return *address;
  }
  throw Napi::TypeError::New(env, name + " must be an IPv4 address in dotted-quad form or an IPv6 address");
}

// A rule's source: empty for any source, else an address.
IpAddress SourceValue(Napi::Env env, Napi::Value value, const std::string& name) {
  const bool any = value.IsString() && value.As<Napi::String>().Utf8Value().empty();
  return any ? IpAddress::Any() : AddressValue(env, value, name);
}

// The destination of an output: `address` (IPv4 or IPv6) and `port`; an IPv6 one in the scope of
// interface `scope` (its index; 0: none), which a link-local address needs.
SocketAddress DestinationValue(Napi::Env env, Napi::Value address, Napi::Value port, Napi::Value scope) {
  const IpAddress ip = AddressValue(env, address, "address");
  const uint16_t networkPort = htons(static_cast<uint16_t>(IntegerIn(env, port, "port", 0, 65535)));
  const uint32_t scopeId = scope.IsUndefined() ? 0 : static_cast<uint32_t>(IntegerIn(env, scope, "scope", 0, INT32_MAX));
  return SocketAddress::Of(ip, networkPort, scopeId);
}

Napi::BigInt Big(Napi::Env env, const Counter& counter) { return Napi::BigInt::New(env, counter.Get()); }

RuleSpec RuleValue(Napi::Env env, Napi::Value value, const std::string& at) {
  Napi::Object object = ObjectValue(env, value, at);
  RuleSpec rule;
  rule.id = StringValue(env, object.Get("id"), at + ".id");
  if (rule.id.empty()) throw Napi::TypeError::New(env, at + ".id must not be empty");
  rule.input = HandleValue(env, object.Get("input"), at + ".input");
  rule.group = AddressValue(env, object.Get("group"), at + ".group");
  rule.port = static_cast<uint16_t>(IntegerIn(env, object.Get("port"), at + ".port", 0, 65535));
  rule.source = SourceValue(env, object.Get("source"), at + ".source");
  const Napi::Value vlan = object.Get("vlan");
  if (!vlan.IsUndefined()) rule.vlan = static_cast<uint16_t>(IntegerIn(env, vlan, at + ".vlan", 1, 4094));
  const Napi::Value outputs = object.Get("outputs");
  if (!outputs.IsArray()) throw Napi::TypeError::New(env, at + ".outputs must be an array of output handles");
  const Napi::Array list = outputs.As<Napi::Array>();
  for (uint32_t j = 0; j < list.Length(); ++j) {
    rule.outputs.push_back(HandleValue(env, list.Get(j), at + ".outputs[" + std::to_string(j) + "]"));
  }
  const Napi::Value counterSlot = object.Get("counterSlot");
  if (!counterSlot.IsUndefined()) {
    rule.counterSlot = static_cast<uint32_t>(IntegerIn(env, counterSlot, at + ".counterSlot", 1, UINT32_MAX));
    const Napi::Value slots = object.Get("outputSlots");
    if (!slots.IsArray()) throw Napi::TypeError::New(env, at + ".outputSlots must be an array of counter slots");
    const Napi::Array slotList = slots.As<Napi::Array>();
    for (uint32_t j = 0; j < slotList.Length(); ++j) {
      rule.outputSlots.push_back(static_cast<uint32_t>(IntegerIn(env, slotList.Get(j), at + ".outputSlots[" + std::to_string(j) + "]", 1, UINT32_MAX)));
    }
  }
  const Napi::Value trace = object.Get("trace");
  if (!trace.IsUndefined() && !trace.IsNull()) {
    const Napi::Object settings = ObjectValue(env, trace, at + ".trace");
    rule.traceEvery = static_cast<uint32_t>(IntegerIn(env, settings.Get("sampleEvery"), at + ".trace.sampleEvery", 1, 1000000));
    rule.traceSnap = static_cast<uint32_t>(IntegerIn(env, settings.Get("snapLength"), at + ".trace.snapLength", 0, kMaxSnapLength));
  }
  return rule;
}

// native/index.ts's SenderPolicy.
SendPolicy SendPolicyValue(Napi::Env env, Napi::Value value, const std::string& name) {
  const Napi::Object object = ObjectValue(env, value, name);
  SendPolicy policy;
  policy.ttl = static_cast<uint8_t>(IntegerIn(env, object.Get("ttl"), name + ".ttl", 1, 255));
  policy.tos = static_cast<uint8_t>(IntegerIn(env, object.Get("tos"), name + ".tos", 0, 255));
  policy.keepTos = static_cast<uint8_t>(IntegerIn(env, object.Get("keepTos"), name + ".keepTos", 0, 255));
  policy.decrementTtl = BooleanValue(env, object.Get("decrementTtl"), name + ".decrementTtl");
  policy.dontFragment = BooleanValue(env, object.Get("dontFragment"), name + ".dontFragment");
  return policy;
}

// A TraceSlot as native/index.ts's TracedPacket.
Napi::Object TracedPacketValue(Napi::Env env, const TraceSlot& slot) {
  Napi::Object record = Napi::Object::New(env);
  record.Set("ruleId", Napi::String::New(env, slot.id, slot.idLength));
  record.Set("timestampNs", Napi::BigInt::New(env, slot.timestampNs));
  record.Set("input", Napi::Number::New(env, slot.input));
  record.Set("source", Napi::String::New(env, slot.source.Text()));
  record.Set("sourcePort", Napi::Number::New(env, slot.sourcePort));
  record.Set("destination", Napi::String::New(env, slot.destination.Text()));
  record.Set("destinationPort", Napi::Number::New(env, slot.destinationPort));
  record.Set("protocol", Napi::Number::New(env, slot.protocol));
  record.Set("ipLength", Napi::Number::New(env, slot.ipLength));
  record.Set("ttl", Napi::Number::New(env, slot.ttl));
  record.Set("tos", Napi::Number::New(env, slot.tos));
  record.Set("vlan", Napi::Number::New(env, slot.vlan));
  Napi::Array sends = Napi::Array::New(env, slot.sendCount);
  for (uint32_t i = 0; i < slot.sendCount; ++i) {
    Napi::Object send = Napi::Object::New(env);
    send.Set("handle", Napi::Number::New(env, slot.sends[i].handle));
    send.Set("errno", Napi::Number::New(env, slot.sends[i].err));
    send.Set("ttl", Napi::Number::New(env, slot.sends[i].ttl));
    send.Set("tos", Napi::Number::New(env, slot.sends[i].tos));
    send.Set("segments", Napi::Number::New(env, slot.sends[i].segments));
    send.Set("fragmented", Napi::Boolean::New(env, slot.sends[i].fragmented));
    sends.Set(i, send);
  }
  record.Set("sends", sends);
  record.Set("timeInMcrNs", Napi::Number::New(env, static_cast<double>(slot.timeInMcrNs)));
  record.Set("frameLength", Napi::Number::New(env, slot.frameLength));
  record.Set("frame", Napi::Buffer<uint8_t>::Copy(env, slot.frame, slot.snapLength));
  return record;
}

class DataplaneJs;
void DeliverTraces(Napi::Env env, Napi::Function onTrace, DataplaneJs* dataplane, std::nullptr_t*);
using TraceCalls = Napi::TypedThreadSafeFunction<DataplaneJs, std::nullptr_t, DeliverTraces>;

class DataplaneJs : public Napi::ObjectWrap<DataplaneJs> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Dataplane",
                       {
                           InstanceMethod<&DataplaneJs::AddInput>("addInput"),
                           InstanceMethod<&DataplaneJs::RemoveInput>("removeInput"),
                           InstanceMethod<&DataplaneJs::AddSender>("addSender"),
                           InstanceMethod<&DataplaneJs::RemoveSender>("removeSender"),
                           InstanceMethod<&DataplaneJs::AddOutput>("addOutput"),
                           InstanceMethod<&DataplaneJs::RemoveOutput>("removeOutput"),
                           InstanceMethod<&DataplaneJs::SetRules>("setRules"),
                           InstanceMethod<&DataplaneJs::UpdateRules>("updateRules"),
                           InstanceMethod<&DataplaneJs::RuleCounters>("ruleCounters"),
                           InstanceMethod<&DataplaneJs::InputCounters>("inputCounters"),
                           InstanceMethod<&DataplaneJs::StallForTest>("stallForTest"),
                           InstanceMethod<&DataplaneJs::RouteForTest>("routeForTest"),
                           InstanceMethod<&DataplaneJs::OutputForTest>("outputForTest"),
                           InstanceMethod<&DataplaneJs::Close>("close"),
                       });
  }

  explicit DataplaneJs(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataplaneJs>(info) {
    Napi::Env env = info.Env();
    Napi::Object options = ObjectValue(env, info[0], "options");
    const int core = static_cast<int>(IntegerIn(env, options.Get("core"), "options.core", -1, CPU_SETSIZE - 1));
    const uint32_t batch = static_cast<uint32_t>(IntegerIn(env, options.Get("batch"), "options.batch", 1, Engine::kMaxBatch));
    const Napi::Value counters = options.Get("counters");
    const int countersFd = counters.IsUndefined() ? -1 : FdValue(env, counters, "options.counters");
    const Napi::Value onTrace = options.Get("onTrace");
    std::function<void()> wakeTraceReader;
    if (!onTrace.IsUndefined()) {
      if (!onTrace.IsFunction()) throw Napi::TypeError::New(env, "options.onTrace must be a function");
      // One call queued at most (the ring asks again only once a drain has started); never blocks
      // the data-plane thread, and does not keep the event loop alive.
      traceCalls_ = TraceCalls::New(env, onTrace.As<Napi::Function>(), "mcr.Dataplane.trace", 1, 1, this);
      traceCalls_.Unref(env);
      tracing_ = true;
      // Runs on the data-plane thread, only once a traced rule is installed, so after engine_ is set.
      wakeTraceReader = [this] {
        if (traceCalls_.NonBlockingCall() != napi_ok) engine_->traceRing()->WakeFailed();
      };
    }
    try {
      engine_ = Guarded(env, [&] { return std::make_unique<Engine>(core, batch, wakeTraceReader, countersFd); });
    } catch (...) {
      if (tracing_) traceCalls_.Abort();
      throw;
    }
  }

  ~DataplaneJs() override { Shutdown(); }

  // Thread-safe function call (JavaScript thread): hands every record in the ring to onTrace.
  void DeliverTraces(Napi::Env env, Napi::Function onTrace) {
    if (engine_->closed()) return;
    TraceRing& ring = *engine_->traceRing();
    Napi::Array records = Napi::Array::New(env);
    uint32_t count = 0;
    ring.Drain([&](const TraceSlot& slot) { records.Set(count++, TracedPacketValue(env, slot)); });
    const uint64_t lost = ring.TakeLost();
    if (count == 0 && lost == 0) return;
    napi_value args[] = {records, Napi::Number::New(env, static_cast<double>(lost))};
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    ReportThrown(env, napi_call_function(env, undefined, onTrace, 2, args, nullptr));
  }

 private:
  Engine& Open(Napi::Env env) {
    if (engine_->closed()) throw Napi::Error::New(env, "the data plane is closed");
    return *engine_;
  }

  // For the counter readers: the worker reads counters periodically, so retired tables, inputs and
  // outputs (and their fds) are released even when no control change follows.
  Engine& OpenCollected(Napi::Env env) {
    Engine& engine = Open(env);
    engine.CollectRetired();
    return engine;
  }

  void AddInput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "handle");
    const int fd = FdValue(env, info[1], "fd");
    const uint32_t slot = info[2].IsUndefined() ? 0 : static_cast<uint32_t>(IntegerIn(env, info[2], "counterSlot", 1, UINT32_MAX));
    Guarded(env, [&] { Open(env).AddInput(handle, fd, slot); });
  }

  Napi::Value RemoveInput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "handle");
    return Napi::Number::New(env, static_cast<double>(Guarded(env, [&] { return Open(env).RemoveInput(handle); })));
  }

  void AddSender(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "handle");
    const int fd = FdValue(env, info[1], "fd");
    const SendPolicy policy = SendPolicyValue(env, info[2], "policy");
    const uint32_t mtu = static_cast<uint32_t>(IntegerIn(env, info[3], "mtu", 0, UINT32_MAX));
    Guarded(env, [&] { Open(env).AddSender(handle, fd, policy, mtu); });
  }

  void RemoveSender(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "handle");
    Guarded(env, [&] { Open(env).RemoveSender(handle); });
  }

  void AddOutput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "handle");
    const uint32_t sender = HandleValue(env, info[1], "sender");
    const SocketAddress destination = DestinationValue(env, info[2], info[3], info[4]);
    Guarded(env, [&] { Open(env).AddOutput(handle, sender, destination); });
  }

  void RemoveOutput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "handle");
    Guarded(env, [&] { Open(env).RemoveOutput(handle); });
  }

  void StallForTest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t ms = static_cast<uint32_t>(IntegerIn(env, info[0], "ms", 1, 60000));
    Open(env).StallForTest(ms);
  }

  Napi::Value RouteForTest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t input = HandleValue(env, info[0], "input");
    const IpAddress group = AddressValue(env, info[1], "group");
    const uint16_t port = static_cast<uint16_t>(IntegerIn(env, info[2], "port", 0, 65535));
    const IpAddress source = SourceValue(env, info[3], "source");
    const uint16_t vlan = info[4].IsUndefined() ? 0 : static_cast<uint16_t>(IntegerIn(env, info[4], "vlan", 0, 4095));
    const Engine& engine = Open(env);
    const Route* route = engine.published().Find(input, group, port, source, vlan);
    if (route == nullptr) return env.Null();
    Napi::Object result = Napi::Object::New(env);
    result.Set("counterSlot", Napi::Number::New(env, static_cast<double>(engine.SlotOf(route->counters))));
    Napi::Array outputs = Napi::Array::New(env, route->targetCount);
    Napi::Array slots = Napi::Array::New(env, route->targetCount);
    for (uint32_t i = 0; i < route->targetCount; ++i) {
      outputs.Set(i, Napi::Number::New(env, route->targets[i].output->handle));
      slots.Set(i, Napi::Number::New(env, static_cast<double>(engine.SlotOf(route->targets[i].counters))));
    }
    result.Set("outputs", outputs);
    result.Set("outputSlots", slots);
    result.Set("tracedId", route->trace ? Napi::String::New(env, route->trace->id, route->trace->idLength) : Napi::String::New(env, ""));
    return result;
  }

  Napi::Value OutputForTest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t handle = HandleValue(env, info[0], "sender");
    const SocketAddress destination = DestinationValue(env, info[1], info[2], env.Undefined());
    const Engine& engine = Open(env);
    const Sender* sender = engine.sender(handle);
    if (sender == nullptr) throw Napi::TypeError::New(env, "unknown sender handle " + std::to_string(handle));
    const Table& table = engine.published();
    const Output* output = table.OutputFor(sender, destination);
    Napi::Object result = Napi::Object::New(env);
    result.Set("output", output ? Napi::Number::New(env, output->handle) : env.Null());
    result.Set("senderKnown", Napi::Boolean::New(env, table.SenderBySerial(sender->serial) == sender));
    return result;
  }

  Napi::Value SetRules(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "rules must be an array");
    const Napi::Array list = info[0].As<Napi::Array>();
    std::vector<RuleSpec> rules;
    rules.reserve(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) rules.push_back(RuleValue(env, list.Get(i), "rules[" + std::to_string(i) + "]"));
    return Napi::Number::New(env, static_cast<double>(Guarded(env, [&] { return Open(env).SetRules(rules); })));
  }

  Napi::Value UpdateRules(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "upserts must be an array");
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "removes must be an array");
    const Napi::Array list = info[0].As<Napi::Array>();
    std::vector<RuleSpec> upserts;
    upserts.reserve(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) upserts.push_back(RuleValue(env, list.Get(i), "upserts[" + std::to_string(i) + "]"));
    const Napi::Array ids = info[1].As<Napi::Array>();
    std::vector<std::string> removes;
    removes.reserve(ids.Length());
    for (uint32_t i = 0; i < ids.Length(); ++i) removes.push_back(StringValue(env, ids.Get(i), "removes[" + std::to_string(i) + "]"));
    return Napi::Number::New(env, static_cast<double>(Guarded(env, [&] { return Open(env).UpdateRules(upserts, removes); })));
  }

  Napi::Value RuleCounters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::vector<const Table::Rule*> rules = OpenCollected(env).table().rules();
    Napi::Array result = Napi::Array::New(env, rules.size());
    for (size_t i = 0; i < rules.size(); ++i) {
      const Table::Rule& rule = *rules[i];
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("id", Napi::String::New(env, rule.id));
      entry.Set("packets", Big(env, rule.counters->packets));
      entry.Set("bytes", Big(env, rule.counters->bytes));
      entry.Set("forwarded", Big(env, rule.counters->forwarded));
      entry.Set("sendFailed", Big(env, rule.counters->sendFailed));
      entry.Set("lastPacketNs", Big(env, rule.counters->lastPacketNs));
      Napi::Array outputs = Napi::Array::New(env, rule.outputs.size());
      for (size_t j = 0; j < rule.outputs.size(); ++j) {
        const OutputCounters& counters = *rule.outputs[j].counters;
        Napi::Object output = Napi::Object::New(env);
        output.Set("handle", Napi::Number::New(env, rule.outputs[j].handle));
        output.Set("packets", Big(env, counters.packets));
        output.Set("bytes", Big(env, counters.bytes));
        output.Set("errWouldBlock", Big(env, counters.errWouldBlock));
        output.Set("errUnreachable", Big(env, counters.errUnreachable));
        output.Set("errOther", Big(env, counters.errOther));
        output.Set("ttlExpired", Big(env, counters.ttlExpired));
        output.Set("fragmented", Big(env, counters.fragmented));
        output.Set("tooBig", Big(env, counters.tooBig));
        outputs.Set(static_cast<uint32_t>(j), output);
      }
      entry.Set("outputs", outputs);
      result.Set(static_cast<uint32_t>(i), entry);
    }
    return result;
  }

  Napi::Value InputCounters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::vector<const Input*> inputs = OpenCollected(env).inputs();
    Napi::Array result = Napi::Array::New(env, inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const mcr::InputCounters& counters = *inputs[i]->counters;
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("handle", Napi::Number::New(env, inputs[i]->handle));
      entry.Set("frames", Big(env, counters.frames));
      entry.Set("bytes", Big(env, counters.bytes));
      entry.Set("unmatched", Big(env, counters.unmatched));
      for (size_t reason = 1; reason < kParseStatusCount; ++reason) {
        const ParseStatus status = static_cast<ParseStatus>(reason);
        entry.Set(ParseStatusName(status), Big(env, counters.Rejected(status)));
      }
      entry.Set("mergedFrames", Big(env, counters.mergedFrames));
      entry.Set("mergedDatagrams", Big(env, counters.mergedDatagrams));
      result.Set(static_cast<uint32_t>(i), entry);
    }
    return result;
  }

  void Close(const Napi::CallbackInfo&) { Shutdown(); }

  // Stops the thread (no more wake-ups), then the trace calls. Idempotent.
  void Shutdown() {
    engine_->Close();
    if (tracing_) {
      tracing_ = false;
      traceCalls_.Abort();
    }
  }

  std::unique_ptr<Engine> engine_;
  TraceCalls traceCalls_;
  bool tracing_ = false;
};

// With a null env the thread-safe function is being torn down: the dataplane may be gone.
void DeliverTraces(Napi::Env env, Napi::Function onTrace, DataplaneJs* dataplane, std::nullptr_t*) {
  if (env != nullptr) dataplane->DeliverTraces(env, onTrace);
}

// createCounterRegion(slots): a fresh counter region (memfd) and this process's mapping of it.
Napi::Value CreateCounterRegionJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t slots = static_cast<uint64_t>(IntegerIn(env, info[0], "slots", 2, uint64_t{1} << 32));
  return TranslateErrors(env, [&]() -> Napi::Value {
    UniqueFd fd(CounterRegion::Create(slots));
    CounterRegion* region = CounterRegion::Map(fd.get()).release();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, region->base(), region->bytes(), [](Napi::Env, void*, CounterRegion* mapped) { delete mapped; }, region);
    Napi::Object result = Napi::Object::New(env);
    result.Set("fd", Napi::Number::New(env, fd.Release()));
    result.Set("buffer", buffer);
    return result;
  });
}

Napi::Value ParseFrameJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "frame must be a Buffer");
  }
  const Napi::Uint8Array frame = info[0].As<Napi::Uint8Array>();
  ParsedPacket packet;
  const ParseStatus status = ParseFrame(frame.Data(), frame.ByteLength(), &packet);
  Napi::Object result = Napi::Object::New(env);
  result.Set("ok", Napi::Boolean::New(env, status == ParseStatus::kOk));
  if (status != ParseStatus::kOk) {
    result.Set("reason", Napi::String::New(env, ParseStatusName(status)));
    return result;
  }
  result.Set("family", Napi::Number::New(env, packet.family));
  result.Set("source", Napi::String::New(env, packet.Source().Text()));
  result.Set("group", Napi::String::New(env, packet.Group().Text()));
  result.Set("srcPort", Napi::Number::New(env, packet.sourcePort));
  result.Set("port", Napi::Number::New(env, packet.port));
  result.Set("payloadOffset", Napi::Number::New(env, packet.payloadOffset));
  result.Set("payloadLength", Napi::Number::New(env, packet.payloadLength));
  result.Set("ttl", Napi::Number::New(env, packet.ttl));
  result.Set("tos", Napi::Number::New(env, packet.tos));
  result.Set("protocol", Napi::Number::New(env, packet.protocol));
  return result;
}

}  // namespace

void InitDataplane(Napi::Env env, Napi::Object exports) {
  exports.Set("Dataplane", DataplaneJs::Define(env));
  exports.Set("parseFrame", Napi::Function::New(env, ParseFrameJs, "parseFrame"));
  exports.Set("createCounterRegion", Napi::Function::New(env, CreateCounterRegionJs, "createCounterRegion"));
}

}  // namespace mcr
