// The qcow2 header (cluster 0, bytes 0 .. header_length): parse, validate the
// rules that need no other structure, and serialize.
#ifndef QCOW2REF_REFERENCE_FORMAT_HEADER_H_
#define QCOW2REF_REFERENCE_FORMAT_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/status/status.h"

namespace qcow2ref {

inline constexpr uint32_t kQcow2Magic = 0x514649FB;  // "QFI\xfb"
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3MinHeaderLength = 104;
inline constexpr uint32_t kV3HeaderLengthWithCompression = 112;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1ull << 0;
inline constexpr uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kIncompatDataFile = 1ull << 2;
inline constexpr uint64_t kIncompatCompressionType = 1ull << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1ull << 4;
inline constexpr uint64_t kIncompatKnownMask = 0x1f;
// Compatible and autoclear bits.
inline constexpr uint64_t kCompatLazyRefcounts = 1ull << 0;
inline constexpr uint64_t kAutoclearBitmaps = 1ull << 0;
inline constexpr uint64_t kAutoclearRawDataFile = 1ull << 1;

enum class CompressionType : uint8_t { kDeflate = 0, kZstd = 1 };

// How guest data is encrypted (Q2.HDR.crypt_method.known: other values are
// refused when the header is parsed, so a parsed header holds one of these).
enum class CryptMethod : uint32_t { kNone = 0, kAes = 1, kLuks = 2 };

struct Header {
  uint32_t magic = kQcow2Magic;
  uint32_t version = 3;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 16;
  uint64_t size = 0;
  CryptMethod crypt_method = CryptMethod::kNone;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  // Version 3 fields (defaults for version 2: Q2.HDR.v2_length).
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = 112;
  uint8_t compression_type = 0;
  // Bytes from 105 up to header_length, kept verbatim (padding and fields of
  // later spec revisions) so serialize(parse(x)) == x.
  std::vector<uint8_t> trailing;

  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
  bool extended_l2() const {
    return (incompatible_features & kIncompatExtendedL2) != 0;
  }
  bool has_data_file() const {
    return (incompatible_features & kIncompatDataFile) != 0;
  }
  uint32_t refcount_bits() const { return 1u << refcount_order; }
  bool operator==(const Header& o) const;
};

// Parses and validates the header from the first bytes of the file.
// `file_prefix` holds at least min(file size, 2 MiB) bytes from offset 0.
Result<Header> ParseHeader(const uint8_t* file_prefix, size_t length);

// Serializes the header fields (header_length bytes for v3, 72 for v2).
std::vector<uint8_t> SerializeHeader(const Header& h);

// Virtual size as exposed to the guest (Q2.HDR.size.sector_multiple).
uint64_t GuestSize(const Header& h);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_HEADER_H_
