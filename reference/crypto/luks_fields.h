// The LUKS1 partition header and its key slots, field by field
// (L1.PHDR.layout; integers big-endian). Strings are NUL-padded
// (L1.PHDR.strings_nul); the eight key slots follow the fixed fields.
#ifndef QCOW2REF_REFERENCE_CRYPTO_LUKS_FIELDS_H_
#define QCOW2REF_REFERENCE_CRYPTO_LUKS_FIELDS_H_

#include "reference/format/field.h"

namespace qcow2ref {

struct LuksField {
  // "LUKS" and 0xBA 0xBE.
  static constexpr Field kMagic{"magic", 0, 6, "L1.PHDR.magic"};
  // 1.
  static constexpr Field kVersion{"version", 6, 2, "L1.PHDR.version"};
  // Cipher, mode and hash names.
  static constexpr Field kCipherName{"cipher-name", 8, 32,
                                     "L1.PHDR.cipher_name"};
  static constexpr Field kCipherMode{"cipher-mode", 40, 32,
                                     "L1.PHDR.cipher_mode"};
  static constexpr Field kHashSpec{"hash-spec", 72, 32, "L1.PHDR.hash_spec"};
  // Sector where the encrypted data would start.
  static constexpr Field kPayloadOffset{"payload-offset", 104, 4,
                                        "L1.PHDR.payload_offset"};
  // Bytes of the master key.
  static constexpr Field kKeyBytes{"key-bytes", 108, 4, "L1.PHDR.key_bytes"};
  // PBKDF2 digest of the master key, its salt and iteration count.
  static constexpr Field kMkDigest{"mk-digest", 112, 20, "L1.PHDR.layout"};
  static constexpr Field kMkDigestSalt{"mk-digest-salt", 132, 32,
                                       "L1.PHDR.layout"};
  static constexpr Field kMkDigestIter{"mk-digest-iter", 164, 4,
                                       "L1.PHDR.mk_digest_iter_nonzero"};
  // The volume's UUID as text.
  static constexpr Field kUuid{"uuid", 168, 40, "L1.PHDR.layout"};
};
inline constexpr Field kLuksFields[] = {
    LuksField::kMagic,        LuksField::kVersion,  LuksField::kCipherName,
    LuksField::kCipherMode,   LuksField::kHashSpec, LuksField::kPayloadOffset,
    LuksField::kKeyBytes,     LuksField::kMkDigest, LuksField::kMkDigestSalt,
    LuksField::kMkDigestIter, LuksField::kUuid,
};
// Where the first key slot starts.
inline constexpr uint32_t kLuksSlotsStart = LuksField::kUuid.end();

// One key slot, from its own start.
struct LuksSlotField {
  // Enabled or disabled marker.
  static constexpr Field kActive{"active", 0, 4, "L1.KS.active"};
  // PBKDF2 iterations and salt for the passphrase.
  static constexpr Field kIterations{"iterations", 4, 4,
                                     "L1.KS.iterations_nonzero"};
  static constexpr Field kSalt{"salt", 8, 32, "L1.PHDR.layout"};
  // Sector of the slot's key material, from the LUKS header's start.
  static constexpr Field kKeyMaterialOffset{"key-material-offset", 40, 4,
                                            "L1.KS.key_material_after_header"};
  // Anti-forensic stripes.
  static constexpr Field kStripes{"stripes", 44, 4, "L1.KS.stripes_4000"};
};
inline constexpr Field kLuksSlotFields[] = {
    LuksSlotField::kActive, LuksSlotField::kIterations, LuksSlotField::kSalt,
    LuksSlotField::kKeyMaterialOffset, LuksSlotField::kStripes};
inline constexpr uint32_t kLuksSlotSize = LuksSlotField::kStripes.end();

// Where key slot `i` starts, from the LUKS header's start.
constexpr uint64_t LuksSlotStart(int i) {
  return kLuksSlotsStart + uint64_t{kLuksSlotSize} * i;
}

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_LUKS_FIELDS_H_
