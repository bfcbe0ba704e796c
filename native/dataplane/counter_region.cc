#include "dataplane/counter_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "common/fd.h"

namespace mcr {

namespace {

uint8_t* MapShared(int fd, size_t bytes) {
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) throw SyscallError("mmap (counter region)", errno);
  return static_cast<uint8_t*>(base);
}

}  // namespace

int CounterRegion::Create(uint64_t slots) {
  if (slots < 2 || slots > (uint64_t{1} << 32)) throw std::invalid_argument("a counter region has 2..2^32 slots");
  UniqueFd fd(CheckSyscall(memfd_create("mcr-counters", MFD_CLOEXEC | MFD_ALLOW_SEALING), "memfd_create"));
  const size_t bytes = slots * kSlotBytes;
  CheckSyscall(ftruncate(fd.get(), static_cast<off_t>(bytes)), "ftruncate (counter region)");
  // The worker maps it too: it must never shrink under either mapping (SIGBUS).
  CheckSyscall(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), "fcntl F_ADD_SEALS (counter region)");
  uint8_t* base = MapShared(fd.get(), bytes);
  RegionHeader& header = *reinterpret_cast<RegionHeader*>(base);
  header.slots.Set(slots);
  header.magic.Set(kRegionMagic);
  munmap(base, bytes);
  return fd.Release();
}

std::unique_ptr<CounterRegion> CounterRegion::Map(int fd) {
  struct stat info {};
  CheckSyscall(fstat(fd, &info), "fstat (counter region)");
  const size_t bytes = static_cast<size_t>(info.st_size);
  if (bytes < 2 * kSlotBytes || bytes % kSlotBytes != 0) throw std::invalid_argument("not a counter region (size " + std::to_string(bytes) + ")");
  std::unique_ptr<CounterRegion> region(new CounterRegion(MapShared(fd, bytes), bytes, bytes / kSlotBytes));
  if (region->header().magic.Get() != kRegionMagic || region->header().slots.Get() != region->slots_) {
    throw std::invalid_argument("not a counter region (bad header)");
  }
  return region;
}

CounterRegion::~CounterRegion() { munmap(base_, bytes_); }

void CounterRegion::Check(uint64_t slot, uint64_t count) const {
  if (slot == 0 || count == 0 || slot > slots_ || count > slots_ - slot) {
    throw std::invalid_argument("counter slot " + std::to_string(slot) + " is outside the region (1.." + std::to_string(slots_ - 1) + ")");
  }
}

}  // namespace mcr
