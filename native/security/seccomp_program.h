// Seccomp-BPF programs built from per-system-call rules. The kernel runs such a program (classic
// BPF over struct seccomp_data) on every system call of a filtered thread; its return value says
// whether the call runs, fails with an errno, or kills the process.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <vector>

namespace mcr {

using SeccompProgram = std::vector<sock_filter>;

// Filter answers (SECCOMP_RET_*).
constexpr uint32_t kSeccompAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kSeccompKillProcess = SECCOMP_RET_KILL_PROCESS;
// The call fails with errno `err` without reaching the kernel's implementation.
constexpr uint32_t SeccompErrno(int err) { return SECCOMP_RET_ERRNO | (static_cast<uint32_t>(err) & SECCOMP_RET_DATA); }

// A test of the low 32 bits of one system-call argument. Only int and flag arguments are tested
// (pid_t, clone flags, prctl options), whose high bits the kernel ignores, so 32 bits are exact.
struct ArgTest {
  enum class Kind { kEquals, kAnyBitSet };
  Kind kind;
  uint32_t value;    // the value compared with, or the bit mask
  uint32_t verdict;  // the answer when the test holds
};

ArgTest Equals(uint32_t value, uint32_t verdict);
ArgTest AnyBitSet(uint32_t mask, uint32_t verdict);

// The answer for one system call: the first of `tests` (on argument `arg`) that holds decides;
// when none does (or there are none), `otherwise`.
struct SyscallRule {
  int nr = -1;
  int arg = -1;
  std::vector<ArgTest> tests;
  uint32_t otherwise = kSeccompAllow;
};

// A rule that does not look at the arguments.
SyscallRule Always(int nr, uint32_t verdict);
// A rule that decides on argument `arg` (0-5).
SyscallRule ByArgument(int nr, int arg, std::vector<ArgTest> tests, uint32_t otherwise);

struct SeccompPolicy {
  // AUDIT_ARCH_* of the system-call ABI the rules' numbers belong to: a call made through any other
  // ABI (e.g. 32-bit int 0x80 on x86-64, where the numbers mean other calls) kills the process.
  uint32_t arch = 0;
  // Numbers from this one up kill the process (on x86-64, the x32 ABI's calls, which share
  // AUDIT_ARCH_X86_64 but set bit 30 of the number); 0: no such range.
  uint32_t killFrom = 0;
  // At most one rule per number.
  std::vector<SyscallRule> rules;
  // The answer for every call no rule names.
  uint32_t fallback = kSeccompAllow;
};

// The program: check the ABI, then each rule in order (a call's number is compared with each rule's
// until one matches; the rule's instructions end in a return on every path), then the fallback.
// Throws std::invalid_argument for a number named twice, an argument outside 0-5, or a program the
// kernel would refuse as too long.
SeccompProgram BuildSeccompProgram(const SeccompPolicy& policy);

}  // namespace mcr
