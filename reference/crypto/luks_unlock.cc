#include "reference/crypto/luks_unlock.h"

#include <cstring>

#include "reference/crypto/af_splitter.h"
#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_fields.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

Status CheckIterations(uint32_t iterations, uint64_t at, const char* what) {
  // SPEC(QX.LIMIT.pbkdf2_iterations_cap)
  if (iterations > kMaxPbkdf2Iterations) {
    return Rejected("QX.LIMIT.pbkdf2_iterations_cap", at,
                    std::string(what) + " iteration count " +
                        std::to_string(iterations) + " exceeds the cap " +
                        std::to_string(kMaxPbkdf2Iterations));
  }
  return OkStatus();
}

// Decrypts and merges slot `i`'s key material with the passphrase.
Result<SecretBytes> SlotCandidate(const LuksHeader& h, int i,
                                  const ByteSource& file, uint64_t area_offset,
                                  const SecretBytes& pass) {
  const LuksKeySlot& s = h.slots[i];
  // SPEC(L1.PBKDF2.slot_key)
  QCOW2REF_ASSIGN_OR_RETURN(
      SecretBytes slot_key,
      Pbkdf2(h.hash_spec, pass.data(), pass.size(), s.salt.data(),
             s.salt.size(), s.iterations, h.key_bytes));
  // SPEC(L1.OPS.key_material_aligned)
  // SPEC(L1.OPS.key_material_sector_padding): whole sectors are decrypted
  // and the padding of the last one is dropped.
  const uint64_t bytes = h.material_bytes();
  const uint64_t padded = DivRoundUp(bytes, kSectorSize) * kSectorSize;
  SecretBytes material(padded);
  QCOW2REF_RETURN_IF_ERROR(
      file.ReadAt(area_offset + uint64_t{s.key_material_offset} * kSectorSize,
                  material.data(), padded));
  // SPEC(L1.OPS.key_material_cipher)
  QCOW2REF_ASSIGN_OR_RETURN(
      auto cipher,
      SectorCipher::Create(h.suite, slot_key.data(), slot_key.size()));
  // SPEC(L1.OPS.iv_zero_start): sector numbers start at 0 for the material.
  QCOW2REF_RETURN_IF_ERROR(cipher->Decrypt(material.data(), padded, 0));
  return AfMerge(h.hash_spec, material.data(), h.key_bytes, kLuksStripes);
}

}  // namespace

uint64_t LuksOpenCost(const LuksHeader& h) {
  uint64_t cost = 0;
  for (const LuksKeySlot& s : h.slots) {
    if (s.enabled()) cost += uint64_t{s.iterations} + h.mk_digest_iter;
  }
  return cost;
}

Status CheckLuksOpenBudget(const LuksHeader& h, uint64_t area_offset,
                           uint64_t budget) {
  QCOW2REF_RETURN_IF_ERROR(CheckIterations(
      h.mk_digest_iter, area_offset + LuksField::kMkDigestIter.offset,
      "master key digest"));
  for (int i = 0; i < kLuksSlots; ++i) {
    if (!h.slots[i].enabled()) continue;
    QCOW2REF_RETURN_IF_ERROR(CheckIterations(
        h.slots[i].iterations,
        area_offset + LuksSlotStart(i) + LuksSlotField::kIterations.offset,
        "key slot"));
  }
  // SPEC(QX.LIMIT.pbkdf2_open_budget): judged before any PBKDF2 runs.
  const uint64_t cost = LuksOpenCost(h);
  if (cost > budget) {
    return Rejected(
        "QX.LIMIT.pbkdf2_open_budget", area_offset + kLuksSlotsStart,
        "trying every active key slot would cost " + std::to_string(cost) +
            " PBKDF2 iterations, over the budget of " + std::to_string(budget) +
            " per open");
  }
  return OkStatus();
}

Result<bool> LuksMasterKeyMatches(const LuksHeader& h,
                                  const SecretBytes& candidate) {
  // SPEC(L1.MKD.digest_size): 20 bytes whatever the hash.
  QCOW2REF_ASSIGN_OR_RETURN(
      SecretBytes digest,
      Pbkdf2(h.hash_spec, candidate.data(), candidate.size(),
             h.mk_digest_salt.data(), h.mk_digest_salt.size(), h.mk_digest_iter,
             kLuksDigestSize));
  // SPEC(L1.MKD.verify): constant-time comparison.
  return ConstantTimeEqual(digest.data(), h.mk_digest.data(), kLuksDigestSize);
}

Result<LuksUnlockResult> UnlockLuks(const LuksHeader& h, const ByteSource& file,
                                    uint64_t area_offset,
                                    const SecretBytes& pass, uint64_t budget) {
  // SPEC(QX.LUKS.no_active_slot): say so rather than blame the passphrase.
  bool any_enabled = false;
  for (const LuksKeySlot& s : h.slots) any_enabled |= s.enabled();
  if (!any_enabled) {
    return Rejected("QX.LUKS.no_active_slot", area_offset + kLuksSlotsStart,
                    "no LUKS key slot is active: no passphrase can unlock "
                    "the image");
  }
  QCOW2REF_RETURN_IF_ERROR(CheckLuksOpenBudget(h, area_offset, budget));
  // SPEC(L1.MKD.try_active_slots): in ascending slot number.
  for (int i = 0; i < kLuksSlots; ++i) {
    if (!h.slots[i].enabled()) continue;
    QCOW2REF_ASSIGN_OR_RETURN(SecretBytes candidate,
                              SlotCandidate(h, i, file, area_offset, pass));
    QCOW2REF_ASSIGN_OR_RETURN(bool match, LuksMasterKeyMatches(h, candidate));
    if (match) return LuksUnlockResult{std::move(candidate), i};
  }
  // SPEC(L1.MKD.wrong_passphrase)
  return Rejected("L1.MKD.wrong_passphrase", area_offset,
                  "the passphrase unlocks no LUKS key slot");
}

}  // namespace qcow2ref
