// ImageWriter's persistent dirty bitmaps (QX.WRITE.bitmaps_kept): enabled
// bitmaps are marked in use before the first guest change, record every
// changed granule, and are stored at each flush through new data clusters,
// new tables and a new directory that the header then names.
#include <algorithm>
#include <map>

#include "reference/format/bitmap_directory.h"
#include "reference/format/bitmap_fields.h"
#include "reference/format/extension_fields.h"
#include "reference/format/extensions.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref {
namespace {

constexpr uint64_t kBitmapEntryOffsetMask = 0x00fffffffffffe00ull;

}  // namespace

Status ImageWriter::LoadBitmaps(const Image& opened) {
  // The reader lists bitmaps only while the extension is valid (autoclear
  // bit 0); disabled ones do not change when the guest data does.
  for (const BitmapEntry& b : opened.bitmaps()) {
    if ((b.flags & kBitmapFlagAuto) == 0) continue;
    if (b.flags & kBitmapFlagInUse) {
      inconsistent_bitmap_ = b.name;
      continue;
    }
    tracked_.push_back(b);
  }
  if (tracked_.empty()) return OkStatus();
  const BitmapsExtension& ext = *opened.extensions().bitmaps;
  bitmap_directory_offset_ = ext.directory_offset;
  bitmap_directory_size_ = ext.directory_size;
  // Where the extension keeps the directory offset: walk the extension
  // list of the header cluster to the bitmaps extension.
  std::vector<uint8_t> h(g_.cluster_size);
  QCOW2REF_RETURN_IF_ERROR(store_->ReadAtZeroFilled(0, h.data(), h.size()));
  for (uint64_t at = header_.header_length;
       at + kExtensionDataStart <= h.size();) {
    const uint8_t* record = h.data() + at;
    const uint32_t type = LoadField<uint32_t>(record, ExtensionField::kType);
    const uint32_t length =
        LoadField<uint32_t>(record, ExtensionField::kLength);
    if (type == kExtEnd) break;
    if (type == kExtBitmaps) {
      bitmap_directory_field_ = at + kExtensionDataStart +
                                BitmapsExtensionField::kDirectoryOffset.offset;
      return OkStatus();
    }
    at += kExtensionDataStart + DivRoundUp(length, 8) * 8;
  }
  return IoError("internal: the bitmaps extension was not found again");
}

Status ImageWriter::MarkDirty(uint64_t offset, uint64_t length) {
  if (tracked_.empty() || length == 0) return OkStatus();
  if (!bitmaps_in_use_) {
    // SPEC(QX.WRITE.bitmaps_kept): in use (possibly inconsistent) before
    // anything they should record changes; a crash leaves them flagged,
    // which QEMU treats as inconsistent, never stale and trusted.
    for (const BitmapEntry& b : tracked_) {
      constexpr Field kFlags = BitmapField::kFlags;
      uint8_t flags[kFlags.width];
      StoreField(flags, Alone(kFlags), b.flags | kBitmapFlagInUse);
      QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(b.entry_offset + kFlags.offset,
                                               flags, sizeof(flags)));
    }
    QCOW2REF_RETURN_IF_ERROR(store_->Flush());
    bitmaps_in_use_ = true;
  }
  dirty_.push_back({offset, offset + length});
  return OkStatus();
}

Status ImageWriter::StoreBitmaps() {
  if (!bitmaps_in_use_) return OkStatus();
  const uint64_t cs = g_.cluster_size;
  const uint64_t bits_per_cluster = cs * 8;
  std::vector<uint8_t> dir(bitmap_directory_size_);
  QCOW2REF_RETURN_IF_ERROR(
      store_->ReadAt(bitmap_directory_offset_, dir.data(), dir.size()));
  std::vector<std::pair<uint64_t, uint64_t>> frees;  // (offset, bytes)
  std::vector<uint64_t> new_tables(tracked_.size());
  for (size_t n = 0; n < tracked_.size(); ++n) {
    const BitmapEntry& b = tracked_[n];
    const uint64_t granule = uint64_t{1} << b.granularity_bits;
    const uint64_t table_bytes = uint64_t{b.table_size} * 8;
    std::vector<uint8_t> table(table_bytes);
    QCOW2REF_RETURN_IF_ERROR(
        store_->ReadAt(b.table_offset, table.data(), table.size()));
    // Data clusters touched, by table index: their old and new bytes.
    std::map<uint64_t, std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>
        touched;
    for (auto [start, end] : dirty_) {
      end = std::min(end, header_.size);
      if (start >= end) continue;
      // Bit k (k = byte / granularity) is bit k % 8, least significant first,
      // of byte k / 8 of the bitmap data (the spec's bit_offset formula).
      uint64_t k = start / granule;
      const uint64_t last = (end - 1) / granule;
      while (k <= last) {
        const uint64_t j = k / bits_per_cluster;
        if (j >= b.table_size) break;
        auto it = touched.find(j);
        if (it == touched.end()) {
          const uint64_t e = LoadBe64(table.data() + 8 * j);
          const uint64_t at = e & kBitmapEntryOffsetMask;
          std::vector<uint8_t> c(cs, 0);
          if (at != 0) {
            QCOW2REF_RETURN_IF_ERROR(store_->ReadAt(at, c.data(), cs));
          } else if (e & 1) {
            std::fill(c.begin(), c.end(), 0xff);  // All ones.
          }
          it = touched.emplace(j, std::make_pair(c, c)).first;
        }
        std::vector<uint8_t>& bits = it->second.second;
        const uint64_t upto = std::min(last, (j + 1) * bits_per_cluster - 1);
        for (; k <= upto; ++k) {
          const uint64_t bit = k - j * bits_per_cluster;
          bits[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
        }
      }
    }
    bool changed = false;
    for (auto& [j, c] : touched) {
      if (c.first == c.second) continue;
      changed = true;
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t at, Allocate(1));
      QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, c.second.data(), cs));
      const uint64_t old = LoadBe64(table.data() + 8 * j);
      if ((old & kBitmapEntryOffsetMask) != 0) {
        frees.push_back({old & kBitmapEntryOffsetMask, cs});
      }
      StoreBe64(table.data() + 8 * j, at);
    }
    new_tables[n] = b.table_offset;
    if (changed) {
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t at,
                                Allocate(DivRoundUp(table_bytes, cs)));
      QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, table.data(), table_bytes));
      frees.push_back({b.table_offset, DivRoundUp(table_bytes, cs) * cs});
      new_tables[n] = at;
    }
    uint8_t* e = dir.data() + (b.entry_offset - bitmap_directory_offset_);
    StoreField(e, BitmapField::kTableOffset, new_tables[n]);
    StoreField(e, BitmapField::kFlags, b.flags & ~kBitmapFlagInUse);
  }
  // SPEC(QX.WRITE.bitmaps_kept): data and tables are durable before a new
  // directory names them; the header switches to that directory in one
  // 8-byte write; only then is anything old freed.
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  const uint64_t dir_clusters = DivRoundUp(dir.size(), cs);
  QCOW2REF_ASSIGN_OR_RETURN(uint64_t dir_at, Allocate(dir_clusters));
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(dir_at, dir.data(), dir.size()));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  constexpr Field kField = BitmapsExtensionField::kDirectoryOffset;
  uint8_t field[kField.width];
  StoreField(field, Alone(kField), dir_at);
  QCOW2REF_RETURN_IF_ERROR(
      store_->WriteAt(bitmap_directory_field_, field, sizeof(field)));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  frees.push_back({bitmap_directory_offset_, dir_clusters * cs});
  for (const auto& [off, bytes] : frees) {
    for (uint64_t c = off >> g_.cluster_bits;
         c <= (off + bytes - 1) >> g_.cluster_bits; ++c) {
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
      if (rc > 0) QCOW2REF_RETURN_IF_ERROR(SetRefcount(c, rc - 1));
    }
  }
  for (size_t n = 0; n < tracked_.size(); ++n) {
    tracked_[n].entry_offset =
        dir_at + (tracked_[n].entry_offset - bitmap_directory_offset_);
    tracked_[n].table_offset = new_tables[n];
  }
  bitmap_directory_offset_ = dir_at;
  dirty_.clear();
  bitmaps_in_use_ = false;
  return store_->Flush();
}

}  // namespace qcow2ref
