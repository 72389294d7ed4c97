// An entry of the bitmap directory, field by field (Q2.BM.entry_layout;
// integers big-endian, Q2.HDR.big_endian). The fixed part is followed by
// extra data, then the name (no terminator), and the entry is padded to 8
// bytes.
#ifndef QCOW2REF_REFERENCE_FORMAT_BITMAP_FIELDS_H_
#define QCOW2REF_REFERENCE_FORMAT_BITMAP_FIELDS_H_

#include "reference/format/field.h"

namespace qcow2ref {

struct BitmapField {
  // Host offset of the bitmap's table.
  static constexpr Field kTableOffset{"bitmap_table_offset", 0, 8,
                                      "Q2.BM.table_offset.aligned"};
  // Entries in that table.
  static constexpr Field kTableSize{"bitmap_table_size", 8, 4,
                                    "Q2.BM.table_size"};
  // in_use, auto; the other bits are reserved.
  static constexpr Field kFlags{"flags", 12, 4, "Q2.BM.reserved_flags"};
  // 1: a dirty tracking bitmap.
  static constexpr Field kType{"type", 16, 1, "Q2.BM.type"};
  // log2 of the guest bytes one bit stands for.
  static constexpr Field kGranularityBits{"granularity_bits", 17, 1,
                                          "Q2.BM.granularity"};
  // Bytes of the name.
  static constexpr Field kNameSize{"name_size", 18, 2, "Q2.BM.name_size"};
  // Bytes of extra data after the fixed part.
  static constexpr Field kExtraDataSize{"extra_data_size", 20, 4,
                                        "Q2.BM.extra_data"};
};
inline constexpr Field kBitmapFields[] = {
    BitmapField::kTableOffset,     BitmapField::kTableSize,
    BitmapField::kFlags,           BitmapField::kType,
    BitmapField::kGranularityBits, BitmapField::kNameSize,
    BitmapField::kExtraDataSize,
};
// Bytes of the fixed part; the extra data starts here.
inline constexpr uint32_t kBitmapFixedSize = BitmapField::kExtraDataSize.end();

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_BITMAP_FIELDS_H_
