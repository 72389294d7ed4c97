#include "reference/check/cluster_usage.h"

namespace qcow2ref {

const char* OwnerName(Owner o) {
  switch (o) {
    case Owner::kFree:
      return "free";
    case Owner::kHeader:
      return "header";
    case Owner::kL1:
      return "L1 table";
    case Owner::kL2:
      return "L2 table";
    case Owner::kRefcountTable:
      return "refcount table";
    case Owner::kRefcountBlock:
      return "refcount block";
    case Owner::kSnapshotTable:
      return "snapshot table";
    case Owner::kSnapshotL1:
      return "snapshot L1 table";
    case Owner::kBitmapDirectory:
      return "bitmap directory";
    case Owner::kBitmapTable:
      return "bitmap table";
    case Owner::kBitmapData:
      return "bitmap data";
    case Owner::kLuks:
      return "LUKS area";
    case Owner::kData:
      return "data";
    case Owner::kCompressed:
      return "compressed data";
  }
  return "?";
}

ClusterUsage::ClusterUsage(uint32_t cluster_bits, uint64_t file_clusters)
    : cluster_bits_(cluster_bits),
      refs_(file_clusters, 0),
      owners_(file_clusters, Owner::kFree),
      overlap_(file_clusters, false) {}

bool ClusterUsage::Reference(uint64_t offset, uint64_t length, Owner owner,
                             uint64_t count) {
  if (length == 0) return true;
  const uint64_t first = offset >> cluster_bits_;
  const uint64_t last = (offset + length - 1) >> cluster_bits_;
  bool ok = true;
  for (uint64_t i = first; i <= last && i < refs_.size(); ++i) {
    const Owner prev = owners_[i];
    // SPEC(QX.CHECK.overlap)
    // Data clusters may be shared (snapshots); compressed clusters may share
    // a host cluster; L2 tables and snapshot L1s may be shared between
    // snapshots. Anything else sharing a cluster is an overlap.
    const bool sharable =
        prev == owner &&
        (owner == Owner::kData || owner == Owner::kCompressed ||
         owner == Owner::kL2 || owner == Owner::kSnapshotL1);
    if (prev != Owner::kFree && !sharable) {
      overlap_[i] = true;
      last_overlap_ = i;
      last_overlap_other_ = prev;
      ok = false;
    }
    if (prev == Owner::kFree) owners_[i] = owner;
    refs_[i] += count;
  }
  return ok;
}

}  // namespace qcow2ref
