// Header extensions (the area after the header in cluster 0): parse and
// validate each known type, keep unknown ones verbatim.
#ifndef QCOW2REF_REFERENCE_FORMAT_EXTENSIONS_H_
#define QCOW2REF_REFERENCE_FORMAT_EXTENSIONS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reference/format/header.h"
#include "reference/status/status.h"

namespace qcow2ref {

inline constexpr uint32_t kExtEnd = 0x00000000;
inline constexpr uint32_t kExtBackingFormat = 0xE2792ACA;
inline constexpr uint32_t kExtFeatureNames = 0x6803F857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtFullDiskEncryption = 0x0537BE77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

struct FeatureName {
  uint8_t type = 0;  // 0 incompatible, 1 compatible, 2 autoclear.
  uint8_t bit = 0;
  std::string name;
};

struct BitmapsExtension {
  uint32_t nb_bitmaps = 0;
  uint64_t directory_size = 0;
  uint64_t directory_offset = 0;
};

struct FdePointer {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct UnknownExtension {
  uint32_t type = 0;
  std::vector<uint8_t> data;
};

struct Extensions {
  std::optional<std::string> backing_format;
  std::vector<FeatureName> feature_names;
  bool has_feature_table = false;
  std::optional<BitmapsExtension> bitmaps;
  std::optional<FdePointer> fde;
  std::optional<std::string> data_file;
  std::vector<UnknownExtension> unknown;
  uint64_t end_offset = 0;  // Byte offset just past the end marker.
};

// Parses the extension area of cluster 0. `cluster0` holds the first
// min(cluster size, file size) bytes of the file.
Result<Extensions> ParseExtensions(const Header& h, const uint8_t* cluster0,
                                   size_t length);

// Serializes extensions in QEMU's order, ending with the end marker.
std::vector<uint8_t> SerializeExtensions(const Extensions& e);

// The name of a feature bit from the table, or "" when unnamed.
std::string FeatureNameFor(const Extensions& e, uint8_t type, uint8_t bit);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_EXTENSIONS_H_
