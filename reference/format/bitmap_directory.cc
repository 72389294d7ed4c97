#include "reference/format/bitmap_directory.h"

#include "reference/format/bitmap_fields.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

using F = BitmapField;

Status ValidateEntry(const Header& h, const BitmapEntry& b, uint64_t at) {
  // SPEC(Q2.BM.type)
  if (b.type != 1) {
    return Rejected("Q2.BM.type", at + F::kType.offset,
                    "bitmap type " + std::to_string(b.type) + " is not 1");
  }
  // SPEC(Q2.BM.granularity)
  if (b.granularity_bits < 9 || b.granularity_bits > 31) {
    return Rejected("Q2.BM.granularity", at + F::kGranularityBits.offset,
                    "bitmap granularity_bits " +
                        std::to_string(b.granularity_bits) + " outside 9..31");
  }
  // SPEC(Q2.BM.reserved_flags)
  if ((b.flags & ~(kBitmapFlagInUse | kBitmapFlagAuto)) != 0) {
    return Rejected("Q2.BM.reserved_flags", at + F::kFlags.offset,
                    "bitmap has reserved flag bits set");
  }
  // SPEC(Q2.BM.table_offset.aligned)
  if (b.table_offset == 0 || b.table_offset % h.cluster_size() != 0) {
    return Rejected("Q2.BM.table_offset.aligned", at,
                    "bitmap table offset is zero or not cluster aligned");
  }
  // SPEC(QX.LIMIT.bitmap_count)
  if (b.table_size > kMaxBitmapTableEntries) {
    return Rejected("QX.LIMIT.bitmap_count", at + F::kTableSize.offset,
                    "bitmap table size " + std::to_string(b.table_size) +
                        " exceeds 0x8000000");
  }
  // SPEC(Q2.BM.table_size)
  const uint64_t needed = BitmapTableEntries(h, b.granularity_bits);
  // Exactly: QEMU refuses a table longer than the disk needs too (found by
  // run.py fuzz against qemu-img: n_bm_table_size_long).
  if (b.table_size == 0 || b.table_size != needed) {
    return Rejected("Q2.BM.table_size", at + F::kTableSize.offset,
                    "bitmap table of " + std::to_string(b.table_size) +
                        " entries does not match the disk (needs " +
                        std::to_string(needed) + ")");
  }
  return OkStatus();
}

}  // namespace

uint64_t BitmapTableEntries(const Header& h, uint32_t granularity_bits) {
  // SPEC(Q2.BM.table_size): of the guest size, the header's size rounded
  // down to whole sectors (Q2.HDR.size.sector_multiple), the size QEMU's
  // bitmaps are made for.
  const uint64_t bits =
      DivRoundUp(GuestSize(h), uint64_t{1} << granularity_bits);
  return DivRoundUp(bits, h.cluster_size() * 8);
}

Result<std::vector<BitmapEntry>> ParseBitmapDirectory(const Header& h,
                                                      const uint8_t* dir,
                                                      size_t dir_size,
                                                      uint32_t nb_bitmaps,
                                                      uint64_t dir_offset) {
  std::vector<BitmapEntry> out;
  size_t off = 0;
  while (off < dir_size) {
    const uint64_t at = dir_offset + off;
    // SPEC(Q2.BM.entry_layout)
    if (dir_size - off < kBitmapFixedSize) {
      return Rejected("Q2.BM.entry_layout", at,
                      "bitmap directory entry truncated");
    }
    const uint8_t* e = dir + off;
    BitmapEntry b;
    b.entry_offset = at;
    b.table_offset = LoadField(e, F::kTableOffset);
    b.table_size = LoadField<uint32_t>(e, F::kTableSize);
    b.flags = LoadField<uint32_t>(e, F::kFlags);
    b.type = LoadField<uint8_t>(e, F::kType);
    b.granularity_bits = LoadField<uint8_t>(e, F::kGranularityBits);
    const uint16_t name_size = LoadField<uint16_t>(e, F::kNameSize);
    const uint32_t extra_size = LoadField<uint32_t>(e, F::kExtraDataSize);
    // SPEC(Q2.BM.name_size)
    if (name_size == 0 || name_size > kMaxBitmapNameSize) {
      return Rejected(
          "Q2.BM.name_size", at + F::kNameSize.offset,
          "bitmap name size " + std::to_string(name_size) + " outside 1..1023");
    }
    // SPEC(Q2.BM.extra_data): accepted and skipped (QEMU refuses it).
    const uint64_t entry_size =
        (uint64_t{kBitmapFixedSize} + extra_size + name_size + 7) &
        ~uint64_t{7};
    if (entry_size > dir_size - off) {
      return Rejected("Q2.BM.entry_layout", at,
                      "bitmap directory entry overruns the directory");
    }
    b.name.assign(
        reinterpret_cast<const char*>(e + kBitmapFixedSize + extra_size),
        name_size);
    QCOW2REF_RETURN_IF_ERROR(ValidateEntry(h, b, at));
    out.push_back(std::move(b));
    // SPEC(Q2.BM.count)
    if (out.size() > nb_bitmaps) {
      return Rejected("Q2.BM.count", at,
                      "more bitmaps in the directory than nb_bitmaps");
    }
    off += entry_size;
  }
  if (out.size() != nb_bitmaps) {
    return Rejected("Q2.BM.count", dir_offset,
                    "bitmap directory holds " + std::to_string(out.size()) +
                        " entries, header extension says " +
                        std::to_string(nb_bitmaps));
  }
  return out;
}

}  // namespace qcow2ref
