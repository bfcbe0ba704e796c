// N-API glue for NetlinkMonitor (native/index.ts): a RouteMonitor whose reader thread hands event
// batches to JavaScript through a thread-safe function, and dump() over its own socket.
//
// Lifetime rules (as for ControlChannel):
// - An open monitor holds a strong reference to its own JS object, so it keeps delivering even if
//   the caller drops it; close() releases that reference.
// - Closing aborts the thread-safe function first: batches still queued are then dropped instead of
//   delivered, so no callback runs after close() returns, and the reader thread can never stay
//   blocked on a full queue while it is being joined.
// - An environment cleanup hook closes an open monitor when Node tears the environment down.
#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/background_feed.h"
#include "common/js_glue.h"
#include "netlink/rtnl_dump.h"
#include "netlink/rtnl_monitor.h"

namespace mcr {

namespace {

// Batches waiting for the JS thread; the reader thread blocks when this many are pending (and the
// kernel then buffers, up to an overrun).
constexpr size_t kBatchQueueDepth = 4;

using EventBatch = std::vector<RouteEvent>;

// Builds the JavaScript shapes of native/index.ts with raw Node-API calls whose status is checked:
// while the environment is terminating they fail, and delivery must then give up quietly
// (node-addon-api would try to build an Error, which fails fatally there). After the first failure
// every call returns nullptr and ok() is false.
class JsValues {
 public:
  explicit JsValues(napi_env env) : env_(env) {}
  bool ok() const { return ok_; }

  napi_value Link(const LinkInfo& link) {
    napi_value object = Object();
    Set(object, "index", Number(link.index));
    Set(object, "name", String(link.name));
    Set(object, "up", Boolean(link.up));
    Set(object, "running", Boolean(link.running));
    Set(object, "mtu", Number(link.mtu));
    Set(object, "mac", String(link.mac));
    return object;
  }

  napi_value Address(const AddressInfo& address) {
    napi_value object = Object();
    Set(object, "index", Number(address.index));
    Set(object, "address", String(address.address));
    Set(object, "prefixLength", Number(address.prefix_length));
    return object;
  }

  napi_value Event(const RouteEvent& event) {
    napi_value object = Object();
    switch (event.kind) {
      case RouteEvent::Kind::kLink:
      case RouteEvent::Kind::kLinkDeleted:
        Set(object, "kind", String(event.kind == RouteEvent::Kind::kLink ? "link" : "linkDeleted"));
        Set(object, "link", Link(event.link));
        break;
      case RouteEvent::Kind::kAddress:
      case RouteEvent::Kind::kAddressDeleted:
        Set(object, "kind", String(event.kind == RouteEvent::Kind::kAddress ? "address" : "addressDeleted"));
        Set(object, "address", Address(event.address));
        break;
      case RouteEvent::Kind::kOverrun:
        Set(object, "kind", String("overrun"));
        break;
    }
    return object;
  }

  // An array of `convert(item)` for each item.
  template <typename Item, typename Convert>
  napi_value Array(const std::vector<Item>& items, Convert convert) {
    napi_value array = nullptr;
    if (!Check(napi_create_array_with_length(env_, items.size(), &array))) return nullptr;
    for (uint32_t i = 0; i < items.size() && ok_; ++i) {
      napi_value element = convert(*this, items[i]);
      if (ok_) Check(napi_set_element(env_, array, i, element));
    }
    return ok_ ? array : nullptr;
  }

  napi_value Object() {
    napi_value object = nullptr;
    return ok_ && Check(napi_create_object(env_, &object)) ? object : nullptr;
  }

  void Set(napi_value object, const char* key, napi_value value) {
    if (ok_ && object != nullptr && value != nullptr) Check(napi_set_named_property(env_, object, key, value));
  }

 private:
  napi_value Number(double value) {
    napi_value result = nullptr;
    return ok_ && Check(napi_create_double(env_, value, &result)) ? result : nullptr;
  }
  napi_value Boolean(bool value) {
    napi_value result = nullptr;
    return ok_ && Check(napi_get_boolean(env_, value, &result)) ? result : nullptr;
  }
  napi_value String(const std::string& value) {
    napi_value result = nullptr;
    return ok_ && Check(napi_create_string_utf8(env_, value.data(), value.size(), &result)) ? result : nullptr;
  }

  bool Check(napi_status status) {
    if (status != napi_ok) ok_ = false;
    return ok_;
  }

  napi_env env_;
  bool ok_ = true;
};

class NetlinkMonitor;
void DeliverBatch(Napi::Env env, Napi::Function, NetlinkMonitor* monitor, EventBatch* batch);
using BatchQueue = Napi::TypedThreadSafeFunction<NetlinkMonitor, EventBatch, DeliverBatch>;

class NetlinkMonitor : public Napi::ObjectWrap<NetlinkMonitor>, private RouteEventListener {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkMonitor",
                       {
                           InstanceMethod<&NetlinkMonitor::DumpJs>("dump"),
                           InstanceMethod<&NetlinkMonitor::CloseJs>("close"),
                           InstanceMethod<&NetlinkMonitor::RefJs>("ref"),
                           InstanceMethod<&NetlinkMonitor::UnrefJs>("unref"),
                       });
  }

  explicit NetlinkMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkMonitor>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "onEvents must be a function");
    on_events_ = Napi::Persistent(info[0].As<Napi::Function>());

    feed_.queue() = BatchQueue::New(env, "mcr.NetlinkMonitor", kBatchQueueDepth, 1, this);
    try {
      TranslateErrors(env, [&] { monitor_ = std::make_unique<RouteMonitor>(static_cast<RouteEventListener&>(*this)); });
    } catch (...) {
      feed_.queue().Abort();
      throw;
    }
    feed_.Open(env, info.This(), [this] { monitor_.reset(); });
  }

  // Runs on the JS thread for each batch the reader queued (see DeliverBatch).
  void Deliver(napi_env env, const EventBatch& batch) {
    if (!feed_.open()) return;
    JsValues values(env);
    napi_value events = values.Array(batch, [](JsValues& v, const RouteEvent& event) { return v.Event(event); });
    napi_value undefined, on_events;
    if (!values.ok() || napi_get_undefined(env, &undefined) != napi_ok ||
        napi_get_reference_value(env, on_events_, &on_events) != napi_ok) {
      return;
    }
    // Nothing touches this object after the call: the callback may close it and drop it.
    ReportThrown(env, napi_call_function(env, undefined, on_events, 1, &events, nullptr));
  }

 private:
  // RouteEventListener: reader thread. A failed queue call means the monitor is closing, in which
  // case the batch is dropped here.
  void OnEvents(EventBatch events) override {
    auto batch = std::make_unique<EventBatch>(std::move(events));
    if (feed_.queue().BlockingCall(batch.get()) == napi_ok) batch.release();
  }

  // A snapshot over a socket of its own: it does not depend on the monitor being open.
  Napi::Value DumpJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const RouteSnapshot snapshot = TranslateErrors(env, [] { return DumpRouteState(); });
    JsValues values(env);
    napi_value result = values.Object();
    values.Set(result, "links", values.Array(snapshot.links, [](JsValues& v, const LinkInfo& link) { return v.Link(link); }));
    values.Set(result, "addresses",
               values.Array(snapshot.addresses, [](JsValues& v, const AddressInfo& address) { return v.Address(address); }));
    if (!values.ok()) throw Napi::Error::New(env);  // the pending exception, or the failed call's message
    return Napi::Value(env, result);
  }

  void CloseJs(const Napi::CallbackInfo&) { feed_.Close(); }
  void RefJs(const Napi::CallbackInfo& info) { feed_.Ref(info.Env()); }
  void UnrefJs(const Napi::CallbackInfo& info) { feed_.Unref(info.Env()); }

  Napi::FunctionReference on_events_;
  std::unique_ptr<RouteMonitor> monitor_;  // the reader thread and its socket
  BackgroundFeed<BatchQueue> feed_;         // after monitor_: destroyed first, it stops monitor_ while it exists
};

// The thread-safe function's call: with a null env the queue is being discarded (the monitor
// closed); the batch is freed either way.
void DeliverBatch(Napi::Env env, Napi::Function, NetlinkMonitor* monitor, EventBatch* raw) {
  std::unique_ptr<EventBatch> batch(raw);
  if (env != nullptr) monitor->Deliver(env, *batch);
}

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) { exports.Set("NetlinkMonitor", NetlinkMonitor::Define(env)); }

}  // namespace mcr
