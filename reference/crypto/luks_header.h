// The LUKS1 partition header (592 bytes) and its 8 key slots: parse,
// validate as QEMU 7.2 and the LUKS1 spec require, serialize.
#ifndef QCOW2REF_REFERENCE_CRYPTO_LUKS_HEADER_H_
#define QCOW2REF_REFERENCE_CRYPTO_LUKS_HEADER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reference/crypto/sector_cipher.h"
#include "reference/status/status.h"

namespace qcow2ref {

inline constexpr size_t kLuksHeaderSize = 592;
inline constexpr int kLuksSlots = 8;
inline constexpr uint32_t kLuksSlotEnabled = 0x00AC71F3;
inline constexpr uint32_t kLuksSlotDisabled = 0x0000DEAD;
inline constexpr uint32_t kLuksStripes = 4000;
inline constexpr size_t kLuksDigestSize = 20;
inline constexpr size_t kLuksSaltSize = 32;
inline constexpr uint32_t kLuksHeaderSectors = 8;  // 4096 bytes

struct LuksKeySlot {
  uint32_t active = kLuksSlotDisabled;
  uint32_t iterations = 0;
  std::array<uint8_t, kLuksSaltSize> salt{};
  uint32_t key_material_offset = 0;  // Sectors from the LUKS area start.
  uint32_t stripes = kLuksStripes;
  bool enabled() const { return active == kLuksSlotEnabled; }
};

struct LuksHeader {
  uint16_t version = 1;
  std::string cipher_name;
  std::string cipher_mode;
  std::string hash_spec;
  uint32_t payload_offset = 0;  // Sectors.
  uint32_t key_bytes = 0;
  std::array<uint8_t, kLuksDigestSize> mk_digest{};
  std::array<uint8_t, kLuksSaltSize> mk_digest_salt{};
  uint32_t mk_digest_iter = 0;
  std::string uuid;
  std::array<LuksKeySlot, kLuksSlots> slots;

  CipherSuite suite;  // Parsed from the three strings and key_bytes.

  // Bytes of one slot's key material and the sectors it spans.
  uint64_t material_bytes() const { return uint64_t{key_bytes} * kLuksStripes; }
  uint64_t slot_sectors() const;
};

// Parses the header at the start of the LUKS area. `area_offset` (the FDE
// offset in the qcow2 file) is added to error offsets; `area_length` is the
// FDE length that every key slot must fit in.
Result<LuksHeader> ParseLuksHeader(const uint8_t* bytes, size_t length,
                                   uint64_t area_offset, uint64_t area_length);

std::vector<uint8_t> SerializeLuksHeader(const LuksHeader& h);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_LUKS_HEADER_H_
