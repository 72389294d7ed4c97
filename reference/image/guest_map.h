// The allocation map of a whole chain in the vocabulary of
// `qemu-img map --output=json`: start, length, depth, present, zero, data,
// offset.
#ifndef QCOW2REF_REFERENCE_IMAGE_GUEST_MAP_H_
#define QCOW2REF_REFERENCE_IMAGE_GUEST_MAP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "reference/image/image.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct MapEntry {
  uint64_t start = 0;
  uint64_t length = 0;
  int depth = 0;         // Layer the bytes come from (0 = top).
  bool present = false;  // Allocated (data or zero) in some layer.
  bool zero = false;     // Reads as zeros.
  bool data = false;     // Backed by stored data (plain or compressed).
  bool compressed = false;
  // Host offset of plain data (absent for encrypted images, as in qemu-img).
  std::optional<uint64_t> offset;
};

// At most this many entries (QX.LIMIT.map_entries): a hostile image can
// repeat one fragmented L2 table under every L1 entry.
inline constexpr uint64_t kMaxMapEntries = 1u << 20;

// Calls `visit` for each entry of the map of [start, start + length) of the
// current view, in guest order, adjacent like entries merged, following
// opened backing files. Streams in windows of one L2 table; an L2 table named
// by several L1 entries is walked at most twice per call (QX.LIMIT.map_stream),
// so time grows with the distinct metadata and the entries emitted. More than
// `max_entries` entries in the whole call are refused (QX.LIMIT.map_entries)
// after the first `max_entries` were visited.
Status ForEachMapEntry(const Image& image, uint64_t start, uint64_t length,
                       const std::function<Status(const MapEntry&)>& visit,
                       uint64_t max_entries = UINT64_MAX);

// Maps the whole current view of `image`, following opened backing files.
Result<std::vector<MapEntry>> MapGuest(const Image& image,
                                       uint64_t max_entries = kMaxMapEntries);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_GUEST_MAP_H_
