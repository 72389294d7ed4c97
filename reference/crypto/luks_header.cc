#include "reference/crypto/luks_header.h"

#include <cstring>

#include "reference/crypto/hashes.h"
#include "reference/format/endian.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

constexpr uint8_t kMagic[6] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};

// A NUL-terminated string inside a fixed field (L1.PHDR.strings_nul).
Result<std::string> FixedString(const uint8_t* p, size_t n, uint64_t at,
                                const char* what) {
  const void* nul = std::memchr(p, 0, n);
  // SPEC(L1.PHDR.strings_nul)
  if (nul == nullptr) {
    return Rejected("L1.PHDR.strings_nul", at,
                    std::string("LUKS ") + what + " is not NUL-terminated");
  }
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<const uint8_t*>(nul) - p);
}

Status ValidateSlots(const LuksHeader& h, uint64_t at, uint64_t area_length) {
  const uint64_t sectors = h.slot_sectors();
  for (int i = 0; i < kLuksSlots; ++i) {
    const LuksKeySlot& s = h.slots[i];
    const uint64_t sat = at + 208 + 48 * i;
    const std::string name = "key slot " + std::to_string(i);
    // SPEC(L1.KS.active)
    if (s.active != kLuksSlotEnabled && s.active != kLuksSlotDisabled) {
      return Rejected("L1.KS.active", sat,
                      name + " state is neither enabled nor disabled");
    }
    // SPEC(L1.KS.stripes_4000): every slot, as QEMU 7.2 requires.
    if (s.stripes != kLuksStripes) {
      return Rejected(
          "L1.KS.stripes_4000", sat + 44,
          name + " has " + std::to_string(s.stripes) + " stripes, not 4000");
    }
    // SPEC(L1.KS.iterations_nonzero)
    if (s.enabled() && s.iterations == 0) {
      return Rejected("L1.KS.iterations_nonzero", sat + 4,
                      name + " is enabled with 0 iterations");
    }
    // SPEC(L1.KS.key_material_after_header)
    if (s.key_material_offset < kLuksHeaderSectors) {
      return Rejected("L1.KS.key_material_after_header", sat + 40,
                      name + " key material overlaps the LUKS header");
    }
    // SPEC(L1.KS.key_material_before_payload)
    if (uint64_t{s.key_material_offset} + sectors > h.payload_offset) {
      return Rejected("L1.KS.key_material_before_payload", sat + 40,
                      name + " key material overlaps the payload");
    }
    // SPEC(L1.KS.no_overlap)
    for (int j = 0; j < i; ++j) {
      const uint64_t a = s.key_material_offset;
      const uint64_t b = h.slots[j].key_material_offset;
      if (a < b + sectors && b < a + sectors) {
        return Rejected(
            "L1.KS.no_overlap", sat + 40,
            name + " key material overlaps key slot " + std::to_string(j));
      }
    }
    // SPEC(Q2.FDE.length_covers_key_material)
    // SPEC(L1.KS.material_size)
    if (uint64_t{s.key_material_offset} * kSectorSize +
            DivRoundUp(h.material_bytes(), kSectorSize) * kSectorSize >
        area_length) {
      return Rejected("Q2.FDE.length_covers_key_material", sat + 40,
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
  if (std::memcmp(p, kMagic, 6) != 0) {
    return Rejected("L1.PHDR.magic", at, "no LUKS magic in the LUKS area");
  }
  LuksHeader h;
  h.version = LoadBe16(p + 6);
  // SPEC(L1.PHDR.version)
  if (h.version != 1) {
    return Rejected("L1.PHDR.version", at + 6,
                    "LUKS version " + std::to_string(h.version) +
                        " (only LUKS1 is allowed in qcow2)");
  }
  QCOW2REF_ASSIGN_OR_RETURN(h.cipher_name,
                            FixedString(p + 8, 32, at + 8, "cipher-name"));
  QCOW2REF_ASSIGN_OR_RETURN(h.cipher_mode,
                            FixedString(p + 40, 32, at + 40, "cipher-mode"));
  QCOW2REF_ASSIGN_OR_RETURN(h.hash_spec,
                            FixedString(p + 72, 32, at + 72, "hash-spec"));
  h.payload_offset = LoadBe32(p + 104);
  h.key_bytes = LoadBe32(p + 108);
  std::memcpy(h.mk_digest.data(), p + 112, kLuksDigestSize);
  std::memcpy(h.mk_digest_salt.data(), p + 132, kLuksSaltSize);
  h.mk_digest_iter = LoadBe32(p + 164);
  const uint8_t* uuid = p + 168;
  size_t uuid_len = 0;
  while (uuid_len < 40 && uuid[uuid_len] != 0) ++uuid_len;
  h.uuid.assign(reinterpret_cast<const char*>(uuid), uuid_len);
  for (int i = 0; i < kLuksSlots; ++i) {
    const uint8_t* s = p + 208 + 48 * i;
    LuksKeySlot& k = h.slots[i];
    k.active = LoadBe32(s);
    k.iterations = LoadBe32(s + 4);
    std::memcpy(k.salt.data(), s + 8, kLuksSaltSize);
    k.key_material_offset = LoadBe32(s + 40);
    k.stripes = LoadBe32(s + 44);
  }
  // SPEC(L1.PHDR.hash_spec)
  if (!IsKnownHash(h.hash_spec)) {
    return Unsupported("L1.PHDR.hash_spec", at + 72,
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
    return Rejected("L1.PHDR.payload_offset", at + 104,
                    "LUKS payload offset " + std::to_string(h.payload_offset) +
                        " overlaps the header");
  }
  // SPEC(L1.PHDR.mk_digest_iter_nonzero)
  if (h.mk_digest_iter == 0) {
    return Rejected("L1.PHDR.mk_digest_iter_nonzero", at + 164,
                    "LUKS master key digest iteration count is zero");
  }
  QCOW2REF_RETURN_IF_ERROR(ValidateSlots(h, at, area_length));
  return h;
}

std::vector<uint8_t> SerializeLuksHeader(const LuksHeader& h) {
  std::vector<uint8_t> out(kLuksHeaderSize, 0);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, 6);
  StoreBe16(p + 6, h.version);
  std::memcpy(p + 8, h.cipher_name.data(),
              std::min<size_t>(31, h.cipher_name.size()));
  std::memcpy(p + 40, h.cipher_mode.data(),
              std::min<size_t>(31, h.cipher_mode.size()));
  std::memcpy(p + 72, h.hash_spec.data(),
              std::min<size_t>(31, h.hash_spec.size()));
  StoreBe32(p + 104, h.payload_offset);
  StoreBe32(p + 108, h.key_bytes);
  std::memcpy(p + 112, h.mk_digest.data(), kLuksDigestSize);
  std::memcpy(p + 132, h.mk_digest_salt.data(), kLuksSaltSize);
  StoreBe32(p + 164, h.mk_digest_iter);
  std::memcpy(p + 168, h.uuid.data(), std::min<size_t>(39, h.uuid.size()));
  for (int i = 0; i < kLuksSlots; ++i) {
    uint8_t* s = p + 208 + 48 * i;
    const LuksKeySlot& k = h.slots[i];
    StoreBe32(s, k.active);
    StoreBe32(s + 4, k.iterations);
    std::memcpy(s + 8, k.salt.data(), kLuksSaltSize);
    StoreBe32(s + 40, k.key_material_offset);
    StoreBe32(s + 44, k.stripes);
  }
  return out;
}

}  // namespace qcow2ref
