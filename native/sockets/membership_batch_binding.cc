// N-API glue of applyMemberships (native/index.ts): a batch of membership steps (join, leave, close)
// run in order on a thread of libuv's pool (a Napi::AsyncWorker), so that the kernel's walk of an
// interface's group list (about 1 ms per step with 20,000 groups joined) never holds the event loop.
// Batches are independent: the caller runs one at a time (server/net/memberships.ts), see
// docs/decisions/0045.
#include <napi.h>
#include <arpa/inet.h>

#include <climits>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "sockets/membership.h"

namespace mcr {

namespace {

// Words per step in the Uint32Array: [kind, fd, group, ifindex, source] (addresses in host order).
constexpr size_t kWordsPerOp = 5;

std::string OpName(size_t index, const char* field) {
  return "ops[" + std::to_string(index) + "]." + field;
}

// The Uint32Array of steps, each checked: a malformed one is a TypeError naming it, and nothing runs.
std::vector<MembershipOp> OpsValue(Napi::Env env, Napi::Value value) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, "ops must be a Uint32Array of [kind, fd, group, ifindex, source] steps");
  }
  Napi::Uint32Array words = value.As<Napi::Uint32Array>();
  if (words.ElementLength() % kWordsPerOp != 0) {
    throw Napi::TypeError::New(env, "ops must hold whole [kind, fd, group, ifindex, source] steps");
  }
  std::vector<MembershipOp> ops(words.ElementLength() / kWordsPerOp);
  for (size_t i = 0; i < ops.size(); ++i) {
    const uint32_t* word = &words[kWordsPerOp * i];
    const uint32_t kind = word[0], fd = word[1], group = word[2], ifindex = word[3], source = word[4];
    MembershipOp& op = ops[i];
    if (kind > 2) {
      throw Napi::TypeError::New(env, OpName(i, "kind") + " must be 0 (join), 1 (leave) or 2 (close)");
    }
    if (fd > INT_MAX) {
      throw Napi::TypeError::New(env, OpName(i, "fd") + " must be an integer in 0.." + std::to_string(INT_MAX));
    }
    op.fd = static_cast<int>(fd);
    if (kind == 2) {
      if (group != 0 || ifindex != 0 || source != 0) {
        throw Napi::TypeError::New(env, OpName(i, "group") + ", ifindex and source of a close must be 0");
      }
      op.kind = MembershipOp::Kind::kClose;
      continue;
    }
    op.kind = kind == 0 ? MembershipOp::Kind::kJoin : MembershipOp::Kind::kLeave;
    if (!IN_MULTICAST(group)) {
      throw Napi::TypeError::New(env, OpName(i, "group") + " must be an IPv4 multicast address");
    }
    if (ifindex < 1 || ifindex > INT_MAX) {
      throw Napi::TypeError::New(env, OpName(i, "ifindex") + " must be an integer in 1.." + std::to_string(INT_MAX));
    }
    op.group.s_addr = htonl(group);
    op.ifindex = static_cast<int>(ifindex);
    if (source != 0) {
      if (IN_MULTICAST(source) || source == INADDR_BROADCAST) {
        throw Napi::TypeError::New(env, OpName(i, "source") + " must be 0 (any) or a unicast IPv4 address");
      }
      op.source = in_addr{htonl(source)};
    }
  }
  return ops;
}

class MembershipBatch final : public Napi::AsyncWorker {
 public:
  MembershipBatch(Napi::Env env, std::vector<MembershipOp> ops)
      : Napi::AsyncWorker(env, "mcr:applyMemberships"),
        deferred_(Napi::Promise::Deferred::New(env)),
        ops_(std::move(ops)),
        outcomes_(ops_.size()) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // On the pool's thread: no JavaScript, no Node-API.
  void Execute() override {
    try {
      for (size_t i = 0; i < ops_.size(); ++i) outcomes_[i] = ApplyMembershipOp(ops_[i]);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  // { errno: Int32Array (0 = done), failures: [{ index, code, errno, message }] }.
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Int32Array errnos = Napi::Int32Array::New(env, ops_.size());
    Napi::Array failures = Napi::Array::New(env);
    uint32_t failed = 0;
    for (size_t i = 0; i < outcomes_.size(); ++i) {
      const MembershipOutcome& outcome = outcomes_[i];
      errnos[i] = outcome.err;
      if (outcome.err == 0) continue;
      const char* name = ErrnoName(outcome.err);
      Napi::Object failure = Napi::Object::New(env);
      failure.Set("index", Napi::Number::New(env, static_cast<double>(i)));
      failure.Set("code", name ? std::string(name) : "E" + std::to_string(outcome.err));
      failure.Set("errno", Napi::Number::New(env, outcome.err));
      failure.Set("message", outcome.step + ": " + std::strerror(outcome.err));
      failures.Set(failed++, failure);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("errno", errnos);
    result.Set("failures", failures);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<MembershipOp> ops_;
  std::vector<MembershipOutcome> outcomes_;
};

Napi::Value ApplyMembershipsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* batch = new MembershipBatch(env, OpsValue(env, info[0]));
  Napi::Promise promise = batch->Promise();
  batch->Queue();  // deletes itself once OnOK / OnError has run
  return promise;
}

}  // namespace

void InitMembershipBatch(Napi::Env env, Napi::Object exports) {
  exports.Set("applyMemberships", Napi::Function::New(env, ApplyMembershipsJs, "applyMemberships"));
}

}  // namespace mcr
