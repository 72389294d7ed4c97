// Shared helpers of the libFuzzer targets: a fatal invariant check that works
// in every build (fuzz, replay, OSS-Fuzz), and the budgeted exercise of an
// opened image (map, bounded reads of every extent and every snapshot view).
#ifndef QCOW2REF_FUZZ_FUZZ_UTIL_H_
#define QCOW2REF_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>

#include "reference/image/image.h"

// An invariant of the library broke: print and abort, so that libFuzzer (and
// the replay test) report the input as a crash.
#define FUZZ_CHECK(cond)                                                   \
  do {                                                                     \
    if (!(cond)) ::qcow2ref::fuzz::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace qcow2ref::fuzz {

[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);

// Limits of one input, so that no input costs more than a few milliseconds
// beyond what the library itself spends.
struct ExerciseLimits {
  uint64_t max_read_bytes = 16ull << 20;   // Guest bytes read, all views.
  size_t max_map_entries = 1024;           // Map entries examined per view.
  uint64_t max_read_per_entry = 16 << 10;  // Head of each entry.
  size_t max_snapshots = 16;               // Snapshot views examined.
};

// Maps the current view of `img` with MapGuest, checks that the map tiles
// [0, guest_size) in order, and reads the head and tail of every entry (and
// the same bytes again in two pieces, which must agree). Zero entries of
// the top layer must read as zeros. read's fast path (CopyGuestRange) must
// give the slow path's bytes, or its error's clause, on the view's head and
// tail. Then does the same for every snapshot.
// Never allocates more than max_read_per_entry bytes for guest data.
void ExerciseImage(Image& img, const ExerciseLimits& limits = {});

}  // namespace qcow2ref::fuzz

#endif  // QCOW2REF_FUZZ_FUZZ_UTIL_H_
