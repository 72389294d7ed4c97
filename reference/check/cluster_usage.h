// Who uses each host cluster of the image file, and how many references it
// has: the checker's model of the file, rebuilt from the metadata alone.
#ifndef QCOW2REF_REFERENCE_CHECK_CLUSTER_USAGE_H_
#define QCOW2REF_REFERENCE_CHECK_CLUSTER_USAGE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace qcow2ref {

// What owns a cluster. Ordered for drawing; kFree means unused.
enum class Owner : uint8_t {
  kFree = 0,
  kHeader,
  kL1,
  kL2,
  kRefcountTable,
  kRefcountBlock,
  kSnapshotTable,
  kSnapshotL1,
  kBitmapDirectory,
  kBitmapTable,
  kBitmapData,
  kLuks,
  kData,
  kCompressed,
};

const char* OwnerName(Owner o);

class ClusterUsage {
 public:
  ClusterUsage(uint32_t cluster_bits, uint64_t file_clusters);

  // Adds `count` references of kind `owner` to every cluster overlapping
  // [offset, offset + length). Returns false when a cluster is already owned
  // by a different kind, or by another metadata structure (an overlap).
  // Clusters past the tracked range are counted in `beyond_end()`.
  bool Reference(uint64_t offset, uint64_t length, Owner owner,
                 uint64_t count = 1);

  uint64_t references(uint64_t index) const {
    return index < refs_.size() ? refs_[index] : 0;
  }
  Owner owner(uint64_t index) const {
    return index < owners_.size() ? owners_[index] : Owner::kFree;
  }
  bool overlapped(uint64_t index) const {
    return index < overlap_.size() && overlap_[index];
  }
  uint64_t size() const { return refs_.size(); }
  uint32_t cluster_bits() const { return cluster_bits_; }
  // The first cluster index of the most recent overlap.
  uint64_t last_overlap() const { return last_overlap_; }
  Owner last_overlap_other() const { return last_overlap_other_; }

 private:
  uint32_t cluster_bits_;
  std::vector<uint64_t> refs_;
  std::vector<Owner> owners_;
  std::vector<bool> overlap_;
  uint64_t last_overlap_ = 0;
  Owner last_overlap_other_ = Owner::kFree;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CHECK_CLUSTER_USAGE_H_
