#include "fuzz/fuzz_util.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "reference/image/guest_copy.h"
#include "reference/image/guest_map.h"
#include "reference/io/raw_sink.h"

namespace qcow2ref::fuzz {
namespace {

struct Budget {
  uint64_t left;
  bool Take(uint64_t n) {
    if (n > left) return false;
    left -= n;
    return true;
  }
};

// Reads [offset, offset + length) once whole and once in two pieces split at
// an odd point; when both succeed they must agree. Returns the first read's
// status.
Status ReadTwice(const Image& img, uint64_t offset, uint64_t length,
                 std::vector<uint8_t>* a, std::vector<uint8_t>* b) {
  a->assign(length, 0xa5);
  Status whole = img.Read(offset, a->data(), length);
  if (length < 2) return whole;
  const uint64_t split = std::min<uint64_t>(length - 1, length / 2 + 7);
  b->assign(length, 0x5a);
  Status first = img.Read(offset, b->data(), split);
  Status second = img.Read(offset + split, b->data() + split, length - split);
  if (whole.ok() && first.ok() && second.ok()) {
    FUZZ_CHECK(std::memcmp(a->data(), b->data(), length) == 0);
  }
  return whole;
}

void ExerciseView(const Image& img, const ExerciseLimits& limits,
                  Budget* budget) {
  auto map = MapGuest(img);
  if (!map.ok()) return;
  // The map tiles the guest view in order, without gaps or overlaps.
  uint64_t expect = 0;
  for (const MapEntry& m : *map) {
    FUZZ_CHECK(m.start == expect);
    FUZZ_CHECK(m.length > 0);
    FUZZ_CHECK(m.length <= img.guest_size() - m.start);
    FUZZ_CHECK(!(m.data && m.zero));
    expect = m.start + m.length;
  }
  FUZZ_CHECK(expect == img.guest_size());

  std::vector<uint8_t> a, b;
  size_t examined = 0;
  for (const MapEntry& m : *map) {
    if (++examined > limits.max_map_entries) break;
    const uint64_t head = std::min(m.length, limits.max_read_per_entry);
    if (!budget->Take(2 * head)) return;
    Status st = ReadTwice(img, m.start, head, &a, &b);
    // Zeros of the top layer (zero clusters, or unallocated clusters of an
    // image without a backing file) read as zeros.
    if (st.ok() && m.zero && !m.data && m.depth == 0 && !img.backing_name()) {
      FUZZ_CHECK(std::all_of(a.begin(), a.begin() + head,
                             [](uint8_t v) { return v == 0; }));
    }
    if (m.length > head) {
      const uint64_t tail = std::min(m.length - head, uint64_t{4096} + 3);
      if (!budget->Take(2 * tail)) return;
      (void)ReadTwice(img, m.start + m.length - tail, tail, &a, &b);
    }
  }
  // A read past the end of the view is refused, never served.
  uint8_t byte = 0;
  FUZZ_CHECK(!img.Read(img.guest_size(), &byte, 1).ok());
}

// read's fast path (Image::Resolve + CopyGuestRange into a RawSink) against
// the slow path (Image::Read) on [offset, offset + length): the same bytes,
// or an error naming the same clause. The output is an in-memory file, so
// holes and positional writes are exercised; one thread and small jobs keep
// the run deterministic.
void CompareFastRead(const Image& img, uint64_t offset, uint64_t length) {
  std::vector<uint8_t> slow(length);
  Status slow_st = img.Read(offset, slow.data(), length);
  const int fd = ::memfd_create("fast_read", MFD_CLOEXEC);
  if (fd < 0) return;
  RawSink sink(fd);
  GuestCopyOptions options;
  options.threads = 1;
  options.chunk = 4096;
  Status fast_st = CopyGuestRange(img, offset, length, &sink, options);
  if (fast_st.ok() != slow_st.ok() ||
      (!fast_st.ok() && fast_st.error().clause != slow_st.error().clause)) {
    std::fprintf(stderr, "fast read [%llu, +%llu): %s\nslow read: %s\n",
                 static_cast<unsigned long long>(offset),
                 static_cast<unsigned long long>(length),
                 fast_st.ok() ? "ok" : fast_st.error().ToString().c_str(),
                 slow_st.ok() ? "ok" : slow_st.error().ToString().c_str());
  }
  FUZZ_CHECK(fast_st.ok() == slow_st.ok());
  if (slow_st.ok()) {
    std::vector<uint8_t> fast(length);
    FUZZ_CHECK(::pread(fd, fast.data(), length, 0) ==
               static_cast<ssize_t>(length));
    FUZZ_CHECK(fast == slow);
  } else {
    FUZZ_CHECK(fast_st.error().clause == slow_st.error().clause);
  }
  ::close(fd);
}

}  // namespace

void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

void ExerciseImage(Image& img, const ExerciseLimits& limits) {
  Budget budget{limits.max_read_bytes};
  ExerciseView(img, limits, &budget);
  // The fast read path on the head and the tail of the view.
  const uint64_t n = std::min(img.guest_size(), 4 * limits.max_read_per_entry);
  CompareFastRead(img, 0, n);
  CompareFastRead(img, img.guest_size() - n, n);
  // Copy the keys first: SelectSnapshot must not change snapshots().
  std::vector<std::string> ids;
  for (const Snapshot& s : img.snapshots()) {
    if (ids.size() >= limits.max_snapshots) break;
    ids.push_back(s.id);
  }
  const size_t count = img.snapshots().size();
  for (const std::string& id : ids) {
    if (!img.SelectSnapshot(id).ok()) continue;
    FUZZ_CHECK(img.snapshots().size() == count);
    ExerciseView(img, limits, &budget);
  }
}

}  // namespace qcow2ref::fuzz
