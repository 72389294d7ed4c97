#include "reference/format/cluster_entries.h"

#include <string>

namespace qcow2ref {

Geometry Geometry::FromHeader(const Header& h) {
  Geometry g;
  g.cluster_bits = h.cluster_bits;
  g.cluster_size = h.cluster_size();
  // SPEC(Q2.XL2.entry)
  g.extended_l2 = h.extended_l2();
  g.l2_entry_bytes = g.extended_l2 ? 16 : 8;
  g.l2_entries = g.cluster_size / g.l2_entry_bytes;
  g.subcluster_size =
      g.extended_l2 ? g.cluster_size / kSubclustersPerCluster : g.cluster_size;
  return g;
}

CompressedLayout CompressedLayoutFor(uint32_t cluster_bits) {
  CompressedLayout c;
  // SPEC(Q2.CMP.descriptor)
  c.offset_bits = 62 - (cluster_bits - 8);
  c.offset_mask = (uint64_t{1} << c.offset_bits) - 1;
  c.sectors_mask = (uint64_t{1} << (cluster_bits - 8)) - 1;
  return c;
}

Result<ClusterDescriptor> DecodeL2Entry(const Geometry& g, const Header& h,
                                        uint64_t entry, uint64_t bitmap,
                                        uint64_t at) {
  ClusterDescriptor d;
  d.copied = (entry & kEntryCopied) != 0;
  d.bitmap = bitmap;
  if (entry & kL2Compressed) {
    // SPEC(Q2.CMP.not_with_xdf)
    if (h.has_data_file()) {
      return Rejected("Q2.CMP.not_with_xdf", at,
                      "compressed cluster in an image with an external data "
                      "file");
    }
    // SPEC(Q2.XL2.compressed_bitmap): the bitmap is ignored.
    const CompressedLayout c = CompressedLayoutFor(g.cluster_bits);
    d.kind = ClusterKind::kCompressed;
    d.compressed_offset = entry & c.offset_mask;
    const uint64_t sectors = ((entry >> c.offset_bits) & c.sectors_mask) + 1;
    d.compressed_bytes = sectors * 512 - (d.compressed_offset & 511);
    return d;
  }
  // SPEC(Q2.MAP.l2_entry.reserved): readers ignore reserved bits.
  d.reserved_bits = entry & kL2StandardReservedMask;
  d.host_offset = entry & kL2OffsetMask;
  // SPEC(Q2.MAP.l2_entry.aligned)
  if (d.host_offset % g.cluster_size != 0) {
    return Rejected("Q2.MAP.l2_entry.aligned", at,
                    "data cluster offset " + std::to_string(d.host_offset) +
                        " is not cluster aligned");
  }
  // SPEC(Q2.MAP.offset0_is_unallocated)
  const bool allocated = d.host_offset != 0 || (h.has_data_file() && d.copied);
  d.owns_host = allocated;
  if (g.extended_l2) {
    // SPEC(Q2.XL2.alloc_and_zero)
    if ((bitmap >> 32) & bitmap & 0xffffffffull) {
      return Rejected("Q2.XL2.alloc_and_zero", at + 8,
                      "a subcluster is marked both allocated and zero");
    }
    // SPEC(Q2.XL2.unallocated_no_alloc)
    if (!allocated && (bitmap & 0xffffffffull) != 0) {
      return Rejected("Q2.XL2.unallocated_no_alloc", at + 8,
                      "subclusters marked allocated in an entry without a "
                      "host cluster");
    }
    d.kind = allocated ? ClusterKind::kNormal : ClusterKind::kUnallocated;
    return d;
  }
  if (entry & kL2ZeroFlag) {
    // SPEC(Q2.MAP.zero_flag_v2)
    if (h.version < 3) {
      return Rejected("Q2.MAP.zero_flag_v2", at,
                      "zero cluster flag in a version 2 image");
    }
    // SPEC(Q2.MAP.zero_flag)
    d.kind = ClusterKind::kZero;
    return d;
  }
  d.kind = allocated ? ClusterKind::kNormal : ClusterKind::kUnallocated;
  return d;
}

Result<ClusterKind> SubclusterKind(const ClusterDescriptor& d, int index,
                                   uint64_t at) {
  (void)at;
  // SPEC(Q2.XL2.subcluster_states)
  const bool alloc = (d.bitmap >> index) & 1;
  const bool zero = (d.bitmap >> (32 + index)) & 1;
  if (zero) return ClusterKind::kZero;
  if (alloc && d.kind == ClusterKind::kNormal) return ClusterKind::kNormal;
  return ClusterKind::kUnallocated;
}

}  // namespace qcow2ref
