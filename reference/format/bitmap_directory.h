// The persistent bitmap directory named by the bitmaps extension.
#ifndef QCOW2REF_REFERENCE_FORMAT_BITMAP_DIRECTORY_H_
#define QCOW2REF_REFERENCE_FORMAT_BITMAP_DIRECTORY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reference/format/header.h"
#include "reference/status/status.h"

namespace qcow2ref {

inline constexpr uint32_t kBitmapFlagInUse = 1u << 0;
inline constexpr uint32_t kBitmapFlagAuto = 1u << 1;

struct BitmapEntry {
  uint64_t table_offset = 0;
  uint32_t table_size = 0;
  uint32_t flags = 0;
  uint8_t type = 0;
  uint8_t granularity_bits = 0;
  std::string name;
  uint64_t entry_offset = 0;
};

// Entries a bitmap table must have for the image (Q2.BM.table_size): one
// bit per granule of the guest size (the header's size rounded down to
// sectors, as QEMU takes it), one table entry per cluster of bits.
uint64_t BitmapTableEntries(const Header& h, uint32_t granularity_bits);

// Parses and validates the directory bytes (exactly dir_size bytes read from
// dir_offset) against the header.
Result<std::vector<BitmapEntry>> ParseBitmapDirectory(const Header& h,
                                                      const uint8_t* dir,
                                                      size_t dir_size,
                                                      uint32_t nb_bitmaps,
                                                      uint64_t dir_offset);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_BITMAP_DIRECTORY_H_
