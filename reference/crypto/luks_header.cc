#include "reference/crypto/luks_header.h"

#include <cstring>

#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_fields.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

using F = LuksField;
using SF = LuksSlotField;

constexpr uint8_t kMagic[F::kMagic.width] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};

// A NUL-terminated string field (L1.PHDR.strings_nul) of the header that
// starts at `header` (`at` in the file).
Result<std::string> FixedString(const uint8_t* header, const Field& f,
                                uint64_t at) {
  const uint8_t* p = FieldBytes(header, f);
  const void* nul = std::memchr(p, 0, f.width);
  // SPEC(L1.PHDR.strings_nul)
  if (nul == nullptr) {
    return Rejected("L1.PHDR.strings_nul", at + f.offset,
                    std::string("LUKS ") + f.name + " is not NUL-terminated");
  }
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<const uint8_t*>(nul) - p);
}

// Copies at most width - 1 bytes of `s` into the field, leaving a NUL.
void StoreString(uint8_t* header, const Field& f, const std::string& s) {
  std::memcpy(FieldBytes(header, f), s.data(),
              std::min<size_t>(f.width - 1, s.size()));
}

Status ValidateSlots(const LuksHeader& h, uint64_t at, uint64_t area_length) {
  const uint64_t sectors = h.slot_sectors();
  for (int i = 0; i < kLuksSlots; ++i) {
    const LuksKeySlot& s = h.slots[i];
    const uint64_t sat = at + LuksSlotStart(i);
    const std::string name = "key slot " + std::to_string(i);
    // SPEC(L1.KS.active)
    if (s.active != kLuksSlotEnabled && s.active != kLuksSlotDisabled) {
      return Rejected("L1.KS.active", sat,
                      name + " state is neither enabled nor disabled");
    }
    // SPEC(L1.KS.stripes_4000): every slot, as QEMU 7.2 requires.
    if (s.stripes != kLuksStripes) {
      return Rejected(
          "L1.KS.stripes_4000", sat + SF::kStripes.offset,
          name + " has " + std::to_string(s.stripes) + " stripes, not 4000");
    }
    // SPEC(L1.KS.iterations_nonzero)
    if (s.enabled() && s.iterations == 0) {
      return Rejected("L1.KS.iterations_nonzero", sat + SF::kIterations.offset,
                      name + " is enabled with 0 iterations");
    }
    // SPEC(L1.KS.key_material_after_header)
    if (s.key_material_offset < kLuksHeaderSectors) {
      return Rejected("L1.KS.key_material_after_header",
                      sat + SF::kKeyMaterialOffset.offset,
                      name + " key material overlaps the LUKS header");
    }
    // SPEC(L1.KS.key_material_before_payload)
    if (uint64_t{s.key_material_offset} + sectors > h.payload_offset) {
      return Rejected("L1.KS.key_material_before_payload",
                      sat + SF::kKeyMaterialOffset.offset,
                      name + " key material overlaps the payload");
    }
    // SPEC(L1.KS.no_overlap)
    for (int j = 0; j < i; ++j) {
      const uint64_t a = s.key_material_offset;
      const uint64_t b = h.slots[j].key_material_offset;
      if (a < b + sectors && b < a + sectors) {
        return Rejected(
            "L1.KS.no_overlap", sat + SF::kKeyMaterialOffset.offset,
            name + " key material overlaps key slot " + std::to_string(j));
      }
    }
    // SPEC(Q2.FDE.length_covers_key_material)
    // SPEC(L1.KS.material_size)
    if (uint64_t{s.key_material_offset} * kSectorSize +
            DivRoundUp(h.material_bytes(), kSectorSize) * kSectorSize >
        area_length) {
      return Rejected("Q2.FDE.length_covers_key_material",
                      sat + SF::kKeyMaterialOffset.offset,
                      name + " key material lies past the FDE length " +
                          std::to_string(area_length));
    }
  }
  return OkStatus();
}

}  // namespace

uint64_t LuksHeader::slot_sectors() const {
  // SPEC(L1.OPS.key_material_sectors): ceil(bytes / 512) rounded up to 8.
  const uint64_t s = DivRoundUp(material_bytes(), kSectorSize);
  return DivRoundUp(s, kLuksHeaderSectors) * kLuksHeaderSectors;
}

Result<LuksHeader> ParseLuksHeader(const uint8_t* p, size_t length, uint64_t at,
                                   uint64_t area_length) {
  // SPEC(L1.PHDR.layout)
  if (length < kLuksHeaderSize || area_length < kLuksHeaderSize) {
    return Rejected("Q2.FDE.length_covers_key_material", at,
                    "the LUKS area is shorter than a LUKS header");
  }
  // SPEC(L1.PHDR.magic)
  if (std::memcmp(FieldBytes(p, F::kMagic), kMagic, sizeof(kMagic)) != 0) {
    return Rejected("L1.PHDR.magic", at + F::kMagic.offset,
                    "no LUKS magic in the LUKS area");
  }
  LuksHeader h;
  h.version = LoadField<uint16_t>(p, F::kVersion);
  // SPEC(L1.PHDR.version)
  if (h.version != 1) {
    return Rejected("L1.PHDR.version", at + F::kVersion.offset,
                    "LUKS version " + std::to_string(h.version) +
                        " (only LUKS1 is allowed in qcow2)");
  }
  QCOW2REF_ASSIGN_OR_RETURN(h.cipher_name, FixedString(p, F::kCipherName, at));
  QCOW2REF_ASSIGN_OR_RETURN(h.cipher_mode, FixedString(p, F::kCipherMode, at));
  QCOW2REF_ASSIGN_OR_RETURN(h.hash_spec, FixedString(p, F::kHashSpec, at));
  h.payload_offset = LoadField<uint32_t>(p, F::kPayloadOffset);
  h.key_bytes = LoadField<uint32_t>(p, F::kKeyBytes);
  std::memcpy(h.mk_digest.data(), FieldBytes(p, F::kMkDigest), kLuksDigestSize);
  std::memcpy(h.mk_digest_salt.data(), FieldBytes(p, F::kMkDigestSalt),
              kLuksSaltSize);
  h.mk_digest_iter = LoadField<uint32_t>(p, F::kMkDigestIter);
  const uint8_t* uuid = FieldBytes(p, F::kUuid);
  size_t uuid_len = 0;
  while (uuid_len < F::kUuid.width && uuid[uuid_len] != 0) ++uuid_len;
  h.uuid.assign(reinterpret_cast<const char*>(uuid), uuid_len);
  for (int i = 0; i < kLuksSlots; ++i) {
    const uint8_t* s = p + LuksSlotStart(i);
    LuksKeySlot& k = h.slots[i];
    k.active = LoadField<uint32_t>(s, SF::kActive);
    k.iterations = LoadField<uint32_t>(s, SF::kIterations);
    std::memcpy(k.salt.data(), FieldBytes(s, SF::kSalt), kLuksSaltSize);
    k.key_material_offset = LoadField<uint32_t>(s, SF::kKeyMaterialOffset);
    k.stripes = LoadField<uint32_t>(s, SF::kStripes);
  }
  // SPEC(L1.PHDR.hash_spec)
  if (!IsKnownHash(h.hash_spec)) {
    return Unsupported("L1.PHDR.hash_spec", at + F::kHashSpec.offset,
                       "unsupported LUKS hash '" + h.hash_spec + "'");
  }
  // SPEC(L1.PHDR.cipher_support)
  auto suite = ParseCipherSuite(h.cipher_name, h.cipher_mode, h.key_bytes);
  if (!suite.ok()) {
    Error e = suite.take_error();
    if (e.offset) *e.offset += at;
    return e;
  }
  h.suite = *suite;
  // SPEC(L1.PHDR.payload_offset)
  if (h.payload_offset < kLuksHeaderSectors) {
    return Rejected("L1.PHDR.payload_offset", at + F::kPayloadOffset.offset,
                    "LUKS payload offset " + std::to_string(h.payload_offset) +
                        " overlaps the header");
  }
  // SPEC(L1.PHDR.mk_digest_iter_nonzero)
  if (h.mk_digest_iter == 0) {
    return Rejected("L1.PHDR.mk_digest_iter_nonzero",
                    at + F::kMkDigestIter.offset,
                    "LUKS master key digest iteration count is zero");
  }
  QCOW2REF_RETURN_IF_ERROR(ValidateSlots(h, at, area_length));
  return h;
}

std::vector<uint8_t> SerializeLuksHeader(const LuksHeader& h) {
  std::vector<uint8_t> out(kLuksHeaderSize, 0);
  uint8_t* p = out.data();
  std::memcpy(FieldBytes(p, F::kMagic), kMagic, sizeof(kMagic));
  StoreField(p, F::kVersion, h.version);
  StoreString(p, F::kCipherName, h.cipher_name);
  StoreString(p, F::kCipherMode, h.cipher_mode);
  StoreString(p, F::kHashSpec, h.hash_spec);
  StoreField(p, F::kPayloadOffset, h.payload_offset);
  StoreField(p, F::kKeyBytes, h.key_bytes);
  std::memcpy(FieldBytes(p, F::kMkDigest), h.mk_digest.data(), kLuksDigestSize);
  std::memcpy(FieldBytes(p, F::kMkDigestSalt), h.mk_digest_salt.data(),
              kLuksSaltSize);
  StoreField(p, F::kMkDigestIter, h.mk_digest_iter);
  StoreString(p, F::kUuid, h.uuid);
  for (int i = 0; i < kLuksSlots; ++i) {
    uint8_t* s = p + LuksSlotStart(i);
    const LuksKeySlot& k = h.slots[i];
    StoreField(s, SF::kActive, k.active);
    StoreField(s, SF::kIterations, k.iterations);
    std::memcpy(FieldBytes(s, SF::kSalt), k.salt.data(), kLuksSaltSize);
    StoreField(s, SF::kKeyMaterialOffset, k.key_material_offset);
    StoreField(s, SF::kStripes, k.stripes);
  }
  return out;
}

}  // namespace qcow2ref
