#include "control/chunk_protocol.h"

#include <utility>

namespace mcr {

Reassembler::Result Reassembler::Add(const uint8_t* chunk, size_t length, std::vector<UniqueFd> fds) {
  if (length < 1 || (chunk[0] != kLastChunk && chunk[0] != kMoreChunks)) {
    error_ = length < 1 ? "empty chunk" : "bad chunk header " + std::to_string(chunk[0]);
    return Result::kError;
  }
  if (!fds.empty()) {
    if (started_) {
      error_ = "descriptors arrived on a continuation chunk";
      return Result::kError;
    }
    pending_.fds = std::move(fds);
  }
  const size_t payload = length - 1;
  if (pending_.data.size() + payload > kMaxMessageBytes) {
    error_ = "message exceeds " + std::to_string(kMaxMessageBytes >> 20) + " MiB";
    return Result::kError;
  }
  pending_.data.insert(pending_.data.end(), chunk + 1, chunk + length);
  started_ = true;
  return chunk[0] == kLastChunk ? Result::kComplete : Result::kPartial;
}

ChannelMessage Reassembler::Take() {
  started_ = false;
  return std::exchange(pending_, ChannelMessage{});
}

}  // namespace mcr
