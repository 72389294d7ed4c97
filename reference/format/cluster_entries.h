// L1 and L2 table entries: decoding standard, zero, compressed and extended
// (subcluster) entries into a typed descriptor. Pure functions over integers.
#ifndef QCOW2REF_REFERENCE_FORMAT_CLUSTER_ENTRIES_H_
#define QCOW2REF_REFERENCE_FORMAT_CLUSTER_ENTRIES_H_

#include <cstdint>

#include "reference/format/header.h"
#include "reference/status/status.h"

namespace qcow2ref {

inline constexpr uint64_t kL1OffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kL1ReservedMask = 0x7f000000000001ffull;
inline constexpr uint64_t kL2OffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kL2StandardReservedMask = 0x3f000000000001feull;
inline constexpr uint64_t kEntryCopied = 1ull << 63;
inline constexpr uint64_t kL2Compressed = 1ull << 62;
inline constexpr uint64_t kL2ZeroFlag = 1ull << 0;
inline constexpr int kSubclustersPerCluster = 32;

// Sizes derived from the header (Q2.MAP.l1_index, Q2.XL2.entry).
struct Geometry {
  uint32_t cluster_bits = 16;
  uint64_t cluster_size = 65536;
  uint32_t l2_entry_bytes = 8;  // 16 with extended L2.
  uint64_t l2_entries = 8192;
  bool extended_l2 = false;
  uint64_t subcluster_size = 65536;  // cluster_size / 32 with extended L2.

  static Geometry FromHeader(const Header& h);
  uint64_t l1_index(uint64_t guest) const {
    return (guest >> cluster_bits) / l2_entries;
  }
  uint64_t l2_index(uint64_t guest) const {
    return (guest >> cluster_bits) % l2_entries;
  }
  uint64_t bytes_per_l2_table() const { return cluster_size * l2_entries; }
};

enum class ClusterKind {
  kUnallocated,  // Read from the backing file, or zeros.
  kZero,         // Reads as zeros.
  kNormal,       // Data at host_offset.
  kCompressed,   // Compressed data at compressed_offset.
};

// What one L2 entry says about its guest cluster. For extended L2, `bitmap`
// carries the subcluster state and SubclusterKind() refines the cluster kind.
struct ClusterDescriptor {
  ClusterKind kind = ClusterKind::kUnallocated;
  uint64_t host_offset = 0;        // kNormal (and zero-with-allocation).
  uint64_t compressed_offset = 0;  // kCompressed: host byte offset.
  uint64_t compressed_bytes = 0;   // kCompressed: bytes to read from there.
  bool copied = false;
  // The entry holds a host cluster (kNormal, and a zeroed or partly
  // unallocated cluster that keeps its allocation): a non-zero offset, or
  // offset 0 with COPIED in an image with an external data file
  // (Q2.MAP.offset0_is_unallocated). Never for kCompressed.
  bool owns_host = false;
  uint64_t reserved_bits = 0;  // Reserved bits found set (checker reports).
  uint64_t bitmap = 0;         // Extended L2 bitmap.
};

// Decodes an L1 entry into the L2 table offset (0 = unallocated).
// SPEC(Q2.MAP.l1_entry.offset)
inline uint64_t L1EntryL2Offset(uint64_t entry) {
  return entry & kL1OffsetMask;
}

// Decodes one L2 entry. `has_data_file` selects the external-data-file rule
// for host offset 0 (Q2.MAP.offset0_is_unallocated). Errors name the clause.
Result<ClusterDescriptor> DecodeL2Entry(const Geometry& g, const Header& h,
                                        uint64_t entry, uint64_t bitmap,
                                        uint64_t entry_file_offset);

// The state of subcluster `index` (0..31) of a kNormal or kUnallocated
// extended entry: kNormal (allocated), kZero or kUnallocated.
Result<ClusterKind> SubclusterKind(const ClusterDescriptor& d, int index,
                                   uint64_t entry_file_offset);

// Compressed descriptor field layout (Q2.CMP.descriptor).
struct CompressedLayout {
  uint32_t offset_bits;  // x = 62 - (cluster_bits - 8)
  uint64_t offset_mask;
  uint64_t sectors_mask;
};
CompressedLayout CompressedLayoutFor(uint32_t cluster_bits);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_CLUSTER_ENTRIES_H_
