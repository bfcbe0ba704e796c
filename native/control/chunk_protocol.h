// Wire format of the control channel: a message of any size travels over SOCK_SEQPACKET as a run
// of chunks. Each chunk is one datagram of at most kChunkBytes: a one-byte header (kMoreChunks or
// kLastChunk) followed by a slice of the message. The message's fds (SCM_RIGHTS) ride on its first
// chunk. An empty message is a single header-only chunk; a zero-length read is therefore always EOF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"

namespace mcr {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kChunkPayloadBytes = kChunkBytes - 1;
constexpr size_t kMaxMessageBytes = 64 * 1024 * 1024;
constexpr size_t kMaxMessageFds = 64;

constexpr uint8_t kLastChunk = 0;
constexpr uint8_t kMoreChunks = 1;

// One whole message with the descriptors that came (or go) with it.
struct ChannelMessage {
  std::vector<uint8_t> data;
  std::vector<UniqueFd> fds;
};

// Joins received chunks back into messages, enforcing the format and the limits above.
class Reassembler {
 public:
  enum class Result { kPartial, kComplete, kError };

  // Adds one received datagram (header included) and the fds that came with it.
  // kComplete: the message is ready in Take(). kError: see error(); the channel must be dropped.
  Result Add(const uint8_t* chunk, size_t length, std::vector<UniqueFd> fds);

  ChannelMessage Take();
  const std::string& error() const { return error_; }

 private:
  ChannelMessage pending_;
  bool started_ = false;
  std::string error_;
};

}  // namespace mcr
