// Image::MapLayer: guest offsets -> extents of one layer, via L1 and L2.
#include <algorithm>

#include "reference/format/endian.h"
#include "reference/image/image.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

constexpr size_t kL2CacheTables = 16;

void Append(std::vector<Extent>* out, const Extent& e) {
  if (!out->empty()) {
    Extent& last = out->back();
    const bool contiguous =
        last.kind == e.kind && e.kind != ClusterKind::kCompressed &&
        last.guest_offset + last.length == e.guest_offset &&
        last.has_host == e.has_host &&
        (!e.has_host || last.host_offset + last.length == e.host_offset);
    if (contiguous) {
      last.length += e.length;
      return;
    }
  }
  out->push_back(e);
}

}  // namespace

Result<const std::vector<uint8_t>*> Image::L2Table(uint64_t l2_offset,
                                                   uint64_t l1_index) const {
  auto it = l2_cache_.find(l2_offset);
  if (it != l2_cache_.end()) return &it->second;
  // SPEC(Q2.MAP.l1_entry.aligned)
  if (l2_offset % geometry_.cluster_size != 0) {
    return Rejected("Q2.MAP.l1_entry.aligned",
                    header_.l1_table_offset + 8 * l1_index,
                    "L2 table offset " + std::to_string(l2_offset) +
                        " is not cluster aligned (L1 index " +
                        std::to_string(l1_index) + ")");
  }
  // SPEC(Q2.MAP.l2_table_in_file)
  if (l2_offset >= file_->Size()) {
    return Rejected("Q2.MAP.l2_table_in_file",
                    header_.l1_table_offset + 8 * l1_index,
                    "L2 table at " + std::to_string(l2_offset) +
                        " lies past the end of the file");
  }
  if (l2_cache_.size() >= kL2CacheTables) l2_cache_.clear();
  // SPEC(Q2.ENC.metadata_plain): tables are read as stored, never decrypted.
  std::vector<uint8_t>& table = l2_cache_[l2_offset];
  table.resize(geometry_.cluster_size);
  Status st = file_->ReadAtZeroFilled(l2_offset, table.data(), table.size());
  if (!st.ok()) {
    l2_cache_.erase(l2_offset);
    return st.take_error();
  }
  return &table;
}

Result<std::vector<Extent>> Image::MapLayer(uint64_t offset,
                                            uint64_t length) const {
  std::vector<Extent> out;
  if (!RangeWithin(offset, length, guest_size_)) {
    return UsageError("range past the end of the virtual disk");
  }
  const Geometry& g = geometry_;
  uint64_t pos = offset;
  const uint64_t end = offset + length;
  while (pos < end) {
    const uint64_t cluster_start = pos & ~(g.cluster_size - 1);
    const uint64_t cluster_end = std::min(end, cluster_start + g.cluster_size);
    const uint64_t l1_index = g.l1_index(pos);
    // SPEC(Q2.MAP.l1_beyond_size): everything past the L1 table is one
    // unallocated extent (a snapshot's disk may be larger than its L1).
    if (l1_index >= l1_.size()) {
      Append(&out, {pos, end - pos, ClusterKind::kUnallocated});
      break;
    }
    const uint64_t l1e = l1_[l1_index];
    const uint64_t l2_offset = L1EntryL2Offset(l1e);
    if (l2_offset == 0) {
      // SPEC(Q2.MAP.l1_entry.offset): a whole L2 range is unallocated.
      const uint64_t range_end =
          std::min(end, (l1_index + 1) * g.bytes_per_l2_table());
      Append(&out, {pos, range_end - pos, ClusterKind::kUnallocated});
      pos = range_end;
      continue;
    }
    QCOW2REF_ASSIGN_OR_RETURN(const std::vector<uint8_t>* table,
                              L2Table(l2_offset, l1_index));
    // SPEC(Q2.MAP.l1_index)
    const uint64_t l2_index = g.l2_index(pos);
    const uint8_t* raw = table->data() + l2_index * g.l2_entry_bytes;
    const uint64_t at = l2_offset + l2_index * g.l2_entry_bytes;
    const uint64_t entry = LoadBe64(raw);
    const uint64_t bitmap = g.extended_l2 ? LoadBe64(raw + 8) : 0;
    QCOW2REF_ASSIGN_OR_RETURN(ClusterDescriptor d,
                              DecodeL2Entry(g, header_, entry, bitmap, at));
    if (d.kind == ClusterKind::kCompressed) {
      Extent e{pos, cluster_end - pos, ClusterKind::kCompressed};
      e.compressed_offset = d.compressed_offset;
      e.compressed_bytes = d.compressed_bytes;
      e.cluster_guest_offset = cluster_start;
      Append(&out, e);
      pos = cluster_end;
      continue;
    }
    if (d.kind == ClusterKind::kNormal && header_.has_data_file() &&
        d.host_offset != cluster_start) {
      // SPEC(Q2.XDF.host_equals_guest)
      return Rejected("Q2.XDF.host_equals_guest", at,
                      "external data file cluster at host offset " +
                          std::to_string(d.host_offset) +
                          " does not match guest offset " +
                          std::to_string(cluster_start));
    }
    // A zeroed or partly unallocated cluster may still own a host cluster.
    const bool owns_host =
        d.host_offset != 0 || (header_.has_data_file() && d.copied);
    if (!g.extended_l2) {
      Extent e{pos, cluster_end - pos, d.kind};
      if (owns_host) {
        e.host_offset = d.host_offset + (pos - cluster_start);
        e.has_host = true;
      }
      Append(&out, e);
      pos = cluster_end;
      continue;
    }
    while (pos < cluster_end) {
      const int sub =
          static_cast<int>((pos - cluster_start) / g.subcluster_size);
      const uint64_t sub_end =
          std::min(cluster_end, cluster_start + (sub + 1) * g.subcluster_size);
      QCOW2REF_ASSIGN_OR_RETURN(ClusterKind kind, SubclusterKind(d, sub, at));
      Extent e{pos, sub_end - pos, kind};
      if (owns_host) {
        e.host_offset = d.host_offset + (pos - cluster_start);
        e.has_host = true;
      }
      Append(&out, e);
      pos = sub_end;
    }
  }
  return out;
}

}  // namespace qcow2ref
