// N-API glue for ControlChannel (native/index.ts): a ChannelIo whose reader thread hands whole
// messages and the end of the channel to JavaScript through a thread-safe function.
//
// Lifetime rules:
// - An open channel holds a strong reference to its own JS object, so it keeps delivering even if
//   the caller drops it; close() (or the channel ending) releases that reference.
// - Shutting down aborts the thread-safe function first: events still queued are then dropped
//   (their fds closed) instead of delivered, so no callback runs after close() returns, and the
//   reader thread can never stay blocked on a full queue while it is being joined.
// - When the channel ends on its own (peer closed, error), it shuts itself down before calling
//   onClose, so a dead channel holds neither the event loop nor its fd.
// - An environment cleanup hook shuts an open channel down when Node tears the environment down
//   (process exit, worker thread terminated).
#include <napi.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "control/channel_io.h"
#include "sockets/descriptors.h"
#include "common/background_feed.h"
#include "common/js_glue.h"

namespace mcr {

namespace {

// Events waiting for the JS thread; the reader thread blocks when this many are pending.
constexpr size_t kEventQueueDepth = 16;

// What the reader thread hands to the JS thread: a message, or the end of the channel.
struct ChannelEvent {
  ChannelMessage message;
  std::optional<std::string> closed;
};

class ControlChannel;
void DeliverEvent(Napi::Env env, Napi::Function, ControlChannel* channel, ChannelEvent* event);
using EventQueue = Napi::TypedThreadSafeFunction<ControlChannel, ChannelEvent, DeliverEvent>;

class ControlChannel : public Napi::ObjectWrap<ControlChannel>, private ChannelListener {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ControlChannel",
                       {
                           InstanceMethod<&ControlChannel::SendJs>("send"),
                           InstanceMethod<&ControlChannel::CloseJs>("close"),
                           InstanceMethod<&ControlChannel::RefJs>("ref"),
                           InstanceMethod<&ControlChannel::UnrefJs>("unref"),
                           InstanceMethod<&ControlChannel::QueuedBytesJs>("queuedBytes"),
                       });
  }

  explicit ControlChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ControlChannel>(info) {
    Napi::Env env = info.Env();
    const int fd = FdValue(env, info[0], "fd");
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onMessage must be a function");
    if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "onClose must be a function");
    on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_close_ = Napi::Persistent(info[2].As<Napi::Function>());

    feed_.queue() = EventQueue::New(env, "mcr.ControlChannel", kEventQueueDepth, 1, this);
    try {
      TranslateErrors(env, [&] { io_ = std::make_unique<ChannelIo>(fd, static_cast<ChannelListener&>(*this)); });
    } catch (...) {
      feed_.queue().Abort();
      throw;
    }
    feed_.Open(env, info.This(), [this] { io_.reset(); });
  }

  // Runs on the JS thread for each event the reader queued (see DeliverEvent). Raw Node-API calls
  // with their status checked: while the environment is terminating they fail, and must then give
  // up quietly (node-addon-api would try to build an Error, which fails fatally there).
  void Deliver(napi_env env, ChannelEvent& event) {
    if (!feed_.open()) return;
    napi_value undefined;
    if (napi_get_undefined(env, &undefined) != napi_ok) return;
    if (event.closed) {
      napi_value on_close, reason;
      if (napi_get_reference_value(env, on_close_, &on_close) != napi_ok) return;
      // Release everything first: once the self-reference is gone this object may be collected
      // while onClose runs, so nothing below touches it.
      feed_.Close();
      if (napi_create_string_utf8(env, event.closed->data(), event.closed->size(), &reason) != napi_ok) return;
      ReportThrown(env, napi_call_function(env, undefined, on_close, 1, &reason, nullptr));
      return;
    }

    ChannelMessage& message = event.message;
    static const uint8_t kNothing = 0;
    napi_value args[2], on_message;
    if (napi_create_buffer_copy(env, message.data.size(), message.data.empty() ? &kNothing : message.data.data(),
                                nullptr, &args[0]) != napi_ok ||
        napi_create_array_with_length(env, message.fds.size(), &args[1]) != napi_ok ||
        napi_get_reference_value(env, on_message_, &on_message) != napi_ok) {
      return;  // the fds are still owned by the event, which closes them
    }
    for (uint32_t i = 0; i < message.fds.size(); ++i) {
      napi_value number;
      if (napi_create_int32(env, message.fds[i].get(), &number) != napi_ok ||
          napi_set_element(env, args[1], i, number) != napi_ok) {
        return;
      }
    }
    for (UniqueFd& fd : message.fds) fd.Release();  // now owned by the receiver in JavaScript
    ReportThrown(env, napi_call_function(env, undefined, on_message, 2, args, nullptr));
  }

 private:
  // ChannelListener: reader thread. A failed queue call means the channel is shutting down, in
  // which case the event is dropped here.
  void OnMessage(ChannelMessage message) override {
    Queue(std::make_unique<ChannelEvent>(ChannelEvent{std::move(message), std::nullopt}));
  }
  void OnClosed(std::string reason) override {
    Queue(std::make_unique<ChannelEvent>(ChannelEvent{ChannelMessage{}, std::move(reason)}));
  }
  void Queue(std::unique_ptr<ChannelEvent> event) {
    if (feed_.queue().BlockingCall(event.get()) == napi_ok) event.release();
  }

  Napi::Value QueuedBytesJs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), io_ ? static_cast<double>(io_->queuedBytes()) : 0);
  }

  void SendJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!feed_.open()) {
      Napi::Error error = Napi::Error::New(env, "ControlChannel.send: the channel is closed");
      error.Set("code", Napi::String::New(env, "ERR_CHANNEL_CLOSED"));
      throw error;
    }
    if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "data must be a Buffer");
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    if (data.Length() > kMaxMessageBytes) {
      throw Napi::RangeError::New(env, "ControlChannel.send: message of " + std::to_string(data.Length()) +
                                           " bytes exceeds " + std::to_string(kMaxMessageBytes >> 20) + " MiB");
    }
    ChannelMessage message;
    message.fds = FdsValue(env, info[1]);
    message.data.assign(data.Data(), data.Data() + data.Length());
    // false: the channel has just ended; onClose is on its way and the message is dropped.
    io_->Send(std::move(message));
  }

  // The optional fds argument of send(), duplicated (CLOEXEC) so that the caller keeps its own.
  static std::vector<UniqueFd> FdsValue(Napi::Env env, Napi::Value value) {
    std::vector<UniqueFd> dups;
    if (value.IsUndefined()) return dups;
    if (!value.IsArray()) throw Napi::TypeError::New(env, "fds must be an array of file descriptors");
    Napi::Array fds = value.As<Napi::Array>();
    if (fds.Length() > kMaxMessageFds) {
      throw Napi::TypeError::New(env, "fds must hold at most " + std::to_string(kMaxMessageFds) + " descriptors");
    }
    std::vector<int> numbers;
    for (uint32_t i = 0; i < fds.Length(); ++i) {
      numbers.push_back(FdValue(env, fds.Get(i), "fds[" + std::to_string(i) + "]"));
    }
    TranslateErrors(env, [&] {
      for (int fd : numbers) dups.emplace_back(DupCloexec(fd));
    });
    return dups;
  }

  void CloseJs(const Napi::CallbackInfo&) { feed_.Close(); }
  void RefJs(const Napi::CallbackInfo& info) { feed_.Ref(info.Env()); }
  void UnrefJs(const Napi::CallbackInfo& info) { feed_.Unref(info.Env()); }

  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_close_;
  std::unique_ptr<ChannelIo> io_;  // the reader and writer threads and the socket
  BackgroundFeed<EventQueue> feed_;  // after io_: destroyed first, it stops io_ while io_ exists
};

// The thread-safe function's call: with a null env the queue is being discarded (the channel shut
// down); the event is freed either way, which closes any fds nobody took.
void DeliverEvent(Napi::Env env, Napi::Function, ControlChannel* channel, ChannelEvent* raw) {
  std::unique_ptr<ChannelEvent> event(raw);
  if (env != nullptr) channel->Deliver(env, *event);
}

}  // namespace

void InitControlChannel(Napi::Env env, Napi::Object exports) {
  exports.Set("ControlChannel", ControlChannel::Define(env));
}

}  // namespace mcr
