// Image as a LayerTables: its L1 table and a small cache of L2 tables, read
// as stored. Mapping and reading themselves are layer_reader.cc.
#include "reference/image/image.h"

namespace qcow2ref {
namespace {

constexpr size_t kL2CacheTables = 16;

}  // namespace

Result<const uint8_t*> Image::l2_table(uint64_t offset) const {
  auto it = l2_cache_.find(offset);
  if (it != l2_cache_.end()) return it->second.data();
  if (l2_cache_.size() >= kL2CacheTables) l2_cache_.clear();
  std::vector<uint8_t>& table = l2_cache_[offset];
  table.resize(geometry_.cluster_size);
  Status st = file_->ReadAtZeroFilled(offset, table.data(), table.size());
  if (!st.ok()) {
    l2_cache_.erase(offset);
    return st.take_error();
  }
  return table.data();
}

Result<std::vector<Extent>> Image::MapLayer(uint64_t offset,
                                            uint64_t length) const {
  return layer_->Map(offset, length);
}

Status Image::Read(uint64_t offset, uint8_t* out, uint64_t length) const {
  return layer_->Read(offset, out, length);
}

}  // namespace qcow2ref
