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

// Parses and validates the directory bytes (exactly dir_size bytes read from
// dir_offset) against the header.
Result<std::vector<BitmapEntry>> ParseBitmapDirectory(const Header& h,
                                                      const uint8_t* dir,
                                                      size_t dir_size,
                                                      uint32_t nb_bitmaps,
                                                      uint64_t dir_offset);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_BITMAP_DIRECTORY_H_
