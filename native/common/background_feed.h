// The life cycle of a JavaScript object that a background thread feeds through a thread-safe
// function (ControlChannel, NetlinkMonitor): open from construction until close() or the
// environment's teardown, kept from the garbage collector while open, the event loop kept alive
// only while ref'ed. Shutting down stops delivery first (the queue is aborted, so no call reaches
// a half-closed owner), then the threads that feed it.
#pragma once

#include <napi.h>

#include <functional>

namespace mcr {

template <typename Queue>
class BackgroundFeed {
 public:
  BackgroundFeed() = default;
  BackgroundFeed(const BackgroundFeed&) = delete;
  BackgroundFeed& operator=(const BackgroundFeed&) = delete;
  // Declared after the source it stops, the feed is destroyed before it.
  ~BackgroundFeed() { Shutdown(false); }

  // The owner creates the queue (Queue::New) and then its source; if the source fails, it aborts
  // the queue and the feed is never opened.
  Queue& queue() { return queue_; }
  bool open() const { return open_; }

  // Opens the feed for the JavaScript object `self` (kept alive until Close); `stop_source` stops and
  // joins the threads that call the queue.
  void Open(napi_env env, napi_value self, std::function<void()> stop_source) {
    env_ = env;
    stop_source_ = std::move(stop_source);
    napi_add_env_cleanup_hook(env, &BackgroundFeed::OnEnvCleanup, this);
    napi_create_reference(env, self, 1, &self_);
    open_ = true;
  }

  // close(): shuts down and lets the garbage collector have the object. Idempotent.
  void Close() {
    Shutdown(false);
    if (self_ == nullptr) return;
    napi_delete_reference(env_, self_);
    self_ = nullptr;
  }

  void Ref(Napi::Env env) {
    if (open_) queue_.Ref(env);
  }
  void Unref(Napi::Env env) {
    if (open_) queue_.Unref(env);
  }

 private:
  // The environment is going away: shut down, leaving the self-reference to the environment.
  static void OnEnvCleanup(void* feed) { static_cast<BackgroundFeed*>(feed)->Shutdown(true); }

  void Shutdown(bool from_cleanup_hook) {
    if (!open_) return;
    open_ = false;
    queue_.Abort();
    stop_source_();
    if (!from_cleanup_hook) napi_remove_env_cleanup_hook(env_, &BackgroundFeed::OnEnvCleanup, this);
  }

  Queue queue_;
  napi_env env_ = nullptr;
  napi_ref self_ = nullptr;
  std::function<void()> stop_source_;
  bool open_ = false;
};

}  // namespace mcr
