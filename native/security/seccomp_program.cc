#include "security/seccomp_program.h"

#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

namespace mcr {

namespace {

constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr int kArgCount = 6;
// A conditional jump's offsets (jt, jf) are 8 bits.
constexpr size_t kMaxJump = 255;

sock_filter LoadWord(uint32_t offset) { return BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset); }
sock_filter Return(uint32_t verdict) { return BPF_STMT(BPF_RET | BPF_K, verdict); }
sock_filter JumpIf(uint16_t op, uint32_t k, uint8_t jt, uint8_t jf) { return BPF_JUMP(BPF_JMP | op | BPF_K, k, jt, jf); }

// Offset in struct seccomp_data of the low 32 bits of argument `arg` (args[] are u64 in the
// machine's byte order).
uint32_t ArgLowOffset(int arg) {
  constexpr uint32_t low = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4;
  return static_cast<uint32_t>(offsetof(seccomp_data, args) + sizeof(uint64_t) * arg) + low;
}

// A rule's instructions once its number matched; every path ends in a return, so the accumulator
// the following rules compare (the number) is untouched on the path that skips this block.
SeccompProgram RuleBlock(const SyscallRule& rule) {
  SeccompProgram block;
  if (!rule.tests.empty()) {
    block.push_back(LoadWord(ArgLowOffset(rule.arg)));
    for (const ArgTest& test : rule.tests) {
      const uint16_t op = test.kind == ArgTest::Kind::kEquals ? BPF_JEQ : BPF_JSET;
      block.push_back(JumpIf(op, test.value, 0, 1));  // holds: the next instruction returns its verdict
      block.push_back(Return(test.verdict));
    }
  }
  block.push_back(Return(rule.otherwise));
  return block;
}

void Validate(const SeccompPolicy& policy) {
  std::set<int> seen;
  for (const SyscallRule& rule : policy.rules) {
    const std::string which = "seccomp rule for system call " + std::to_string(rule.nr);
    if (rule.nr < 0) throw std::invalid_argument(which + ": no such number");
    if (!seen.insert(rule.nr).second) throw std::invalid_argument(which + ": the number has two rules");
    if (!rule.tests.empty() && (rule.arg < 0 || rule.arg >= kArgCount)) {
      throw std::invalid_argument(which + ": argument " + std::to_string(rule.arg) + " is not 0-5");
    }
  }
}

}  // namespace

ArgTest Equals(uint32_t value, uint32_t verdict) { return ArgTest{ArgTest::Kind::kEquals, value, verdict}; }

ArgTest AnyBitSet(uint32_t mask, uint32_t verdict) { return ArgTest{ArgTest::Kind::kAnyBitSet, mask, verdict}; }

SyscallRule Always(int nr, uint32_t verdict) { return SyscallRule{nr, -1, {}, verdict}; }

SyscallRule ByArgument(int nr, int arg, std::vector<ArgTest> tests, uint32_t otherwise) {
  return SyscallRule{nr, arg, std::move(tests), otherwise};
}

SeccompProgram BuildSeccompProgram(const SeccompPolicy& policy) {
  Validate(policy);
  SeccompProgram program;
  program.push_back(LoadWord(kArchOffset));
  program.push_back(JumpIf(BPF_JEQ, policy.arch, 1, 0));
  program.push_back(Return(kSeccompKillProcess));
  program.push_back(LoadWord(kNrOffset));
  if (policy.killFrom != 0) {
    program.push_back(JumpIf(BPF_JGE, policy.killFrom, 0, 1));
    program.push_back(Return(kSeccompKillProcess));
  }
  for (const SyscallRule& rule : policy.rules) {
    const SeccompProgram block = RuleBlock(rule);
    if (block.size() > kMaxJump) {
      throw std::invalid_argument("seccomp rule for system call " + std::to_string(rule.nr) + " is too long");
    }
    program.push_back(JumpIf(BPF_JEQ, static_cast<uint32_t>(rule.nr), 0, static_cast<uint8_t>(block.size())));
    program.insert(program.end(), block.begin(), block.end());
  }
  program.push_back(Return(policy.fallback));
  if (program.size() > BPF_MAXINSNS) {
    throw std::invalid_argument("seccomp program of " + std::to_string(program.size()) + " instructions (the kernel takes " +
                                std::to_string(BPF_MAXINSNS) + ")");
  }
  return program;
}

}  // namespace mcr
