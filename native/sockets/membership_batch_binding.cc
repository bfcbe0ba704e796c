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

// A step in the Uint32Array is [kind, fd, group, ifindex, source], an address taking one word
// (IPv4, host order) or four (IPv6, its 16 bytes as four big-endian words) as the kind word's
// kIpv6 flag says: an IPv4 step stays 5 words, the common case of a batch of 20,000 joins
// (docs/decisions/0068). A close is 5 words, group, ifindex and source 0.
constexpr uint32_t kIpv6 = 0x100;
constexpr size_t kIpv4Words = 5;
constexpr size_t kIpv6Words = 11;
constexpr const char* kStepForm =
    "[kind, fd, group, ifindex, source] steps (addresses in 1 word, or 4 with kind | 0x100 for IPv6)";

std::string OpName(size_t index, const char* field) {
  return "ops[" + std::to_string(index) + "]." + field;
}

// The address at `word`: one host-order word, or four big-endian words of an IPv6 address.
IpAddress AddressAt(const uint32_t* word, bool ipv6) {
  if (!ipv6) return IpAddress::V4(htonl(word[0]));
  uint8_t bytes[16];
  for (int i = 0; i < 4; ++i) {
    const uint32_t network = htonl(word[i]);
    std::memcpy(&bytes[4 * i], &network, sizeof(network));
  }
  return IpAddress::V6(bytes);
}

bool AllZero(const uint32_t* word, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (word[i] != 0) return false;
  }
  return true;
}

// The Uint32Array of steps, each checked: a malformed one is a TypeError naming it, and nothing runs.
std::vector<MembershipOp> OpsValue(Napi::Env env, Napi::Value value) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, std::string("ops must be a Uint32Array of ") + kStepForm);
  }
  Napi::Uint32Array words = value.As<Napi::Uint32Array>();
  const size_t length = words.ElementLength();
  std::vector<MembershipOp> ops;
  ops.reserve(length / kIpv4Words);
  for (size_t at = 0; at < length;) {
    const size_t i = ops.size();
    const bool ipv6 = (words[at] & kIpv6) != 0;
    const uint32_t kind = words[at] & ~kIpv6;
    if (kind > 2 || (ipv6 && kind == 2)) {
      throw Napi::TypeError::New(
          env, OpName(i, "kind") + " must be 0 (join), 1 (leave) or 2 (close), with 0x100 for an IPv6 join or leave");
    }
    const size_t stepWords = ipv6 ? kIpv6Words : kIpv4Words;
    if (length - at < stepWords) {
      throw Napi::TypeError::New(env, std::string("ops must hold whole ") + kStepForm + ": ops[" + std::to_string(i) +
                                          "] needs " + std::to_string(stepWords) + " words, " +
                                          std::to_string(length - at) + " are left");
    }
    const uint32_t* word = &words[at];
    at += stepWords;
    const size_t addressWords = ipv6 ? 4 : 1;
    const uint32_t fd = word[1];
    const uint32_t* group = &word[2];
    const uint32_t ifindex = word[2 + addressWords];
    const uint32_t* source = &word[3 + addressWords];
    if (fd > INT_MAX) {
      throw Napi::TypeError::New(env, OpName(i, "fd") + " must be an integer in 0.." + std::to_string(INT_MAX));
    }
    MembershipOp& op = ops.emplace_back();
    op.fd = static_cast<int>(fd);
    if (kind == 2) {
      if (!AllZero(group, 3)) {
        throw Napi::TypeError::New(env, OpName(i, "group") + ", ifindex and source of a close must be 0");
      }
      op.kind = MembershipOp::Kind::kClose;
      continue;
    }
    op.kind = kind == 0 ? MembershipOp::Kind::kJoin : MembershipOp::Kind::kLeave;
    op.group = AddressAt(group, ipv6);
    if (!op.group.IsMulticast()) {
      throw Napi::TypeError::New(
          env, OpName(i, "group") + " must be an " + FamilyName(op.group.Family()) + " multicast address");
    }
    if (ifindex < 1 || ifindex > INT_MAX) {
      throw Napi::TypeError::New(env, OpName(i, "ifindex") + " must be an integer in 1.." + std::to_string(INT_MAX));
    }
    op.ifindex = static_cast<int>(ifindex);
    if (!AllZero(source, addressWords)) {
      op.source = AddressAt(source, ipv6);
      if (!op.source->IsHost()) {
        throw Napi::TypeError::New(
            env, OpName(i, "source") + " must be 0 (any) or a unicast " + FamilyName(op.group.Family()) + " address");
      }
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
