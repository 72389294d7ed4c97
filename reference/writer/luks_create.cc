#include "reference/writer/luks_create.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "reference/crypto/af_splitter.h"
#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_unlock.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

constexpr uint32_t kMinIterations = 1000;

std::string ModeString(const CipherSuite& s) {
  static const char* kModes[] = {"ecb", "cbc", "ctr", "xts"};
  static const char* kIvs[] = {"plain", "plain64", "essiv"};
  std::string m = std::string(kModes[static_cast<int>(s.mode)]) + "-" +
                  kIvs[static_cast<int>(s.ivgen)];
  if (s.ivgen == IvGen::kEssiv) m += ":" + s.iv_hash;
  return m;
}

std::string Uuid(const RandomFill& random) {
  uint8_t b[16];
  random(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                "%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

}  // namespace

uint64_t MeasurePbkdf2Rate(const std::string& hash, size_t out_len) {
  const uint8_t pw[8] = {'b', 'e', 'n', 'c', 'h'};
  const uint8_t salt[32] = {};
  uint32_t iterations = 1 << 14;
  while (true) {
    const auto start = std::chrono::steady_clock::now();
    auto r =
        Pbkdf2(hash, pw, sizeof pw, salt, sizeof salt, iterations, out_len);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!r.ok()) return kMinIterations;
    if (secs > 0.05 || iterations >= (1u << 24)) {
      return static_cast<uint64_t>(iterations / std::max(secs, 1e-6));
    }
    // Aim the next run at about 0.06 s instead of growing by a fixed
    // factor: the measurement itself cost up to 0.2 s per rate, a third of
    // a 512 MiB convert (docs/performance.md).
    const double scale = std::clamp(0.06 / std::max(secs, 1e-6), 2.0, 64.0);
    iterations =
        static_cast<uint32_t>(std::min<double>(1u << 24, iterations * scale));
  }
}

namespace {

// The header with `slot` enabled must open within the reader's budget.
Status RefuseUnopenable(const LuksHeader& h, int slot) {
  LuksHeader after = h;
  after.slots[slot].active = kLuksSlotEnabled;
  Status fits = CheckLuksOpenBudget(after, 0);
  if (fits.ok()) return fits;
  Error e = fits.take_error();
  e.kind = ErrorKind::kUsage;
  e.offset.reset();
  e.message = "the new key slot's iteration count is refused: " + e.message;
  return e;
}

}  // namespace

Status FillKeySlot(LuksArea* area, int slot, const SecretBytes& pass,
                   uint32_t iterations, const RandomFill& random) {
  LuksHeader& h = area->header;
  LuksKeySlot& s = h.slots[slot];
  // SPEC(L1.KS.iterations_nonzero)
  s.iterations = std::max(iterations, kMinIterations);
  // SPEC(QX.LIMIT.pbkdf2_open_budget): never write a header the reader
  // refuses; judged before the slot's PBKDF2 runs.
  QCOW2REF_RETURN_IF_ERROR(RefuseUnopenable(h, slot));
  random(s.salt.data(), s.salt.size());
  QCOW2REF_ASSIGN_OR_RETURN(
      SecretBytes slot_key,
      Pbkdf2(h.hash_spec, pass.data(), pass.size(), s.salt.data(),
             s.salt.size(), s.iterations, h.key_bytes));
  // SPEC(L1.AF.split)
  QCOW2REF_ASSIGN_OR_RETURN(SecretBytes material,
                            AfSplit(h.hash_spec, area->master_key.data(),
                                    h.key_bytes, kLuksStripes, random));
  // SPEC(L1.OPS.key_material_sector_padding): whole sectors, zero padded.
  const uint64_t padded =
      DivRoundUp(material.size(), kSectorSize) * kSectorSize;
  SecretBytes buf(padded);
  std::memset(buf.data(), 0, padded);
  std::memcpy(buf.data(), material.data(), material.size());
  QCOW2REF_ASSIGN_OR_RETURN(
      auto cipher,
      SectorCipher::Create(h.suite, slot_key.data(), slot_key.size()));
  QCOW2REF_RETURN_IF_ERROR(cipher->Encrypt(buf.data(), padded, 0));
  std::memcpy(
      area->bytes.data() + uint64_t{s.key_material_offset} * kSectorSize,
      buf.data(), padded);
  s.active = kLuksSlotEnabled;
  const auto hdr = SerializeLuksHeader(h);
  std::memcpy(area->bytes.data(), hdr.data(), hdr.size());
  return OkStatus();
}

Result<LuksArea> CreateLuksArea(const LuksCreateOptions& o,
                                const SecretBytes& pass,
                                const RandomFill& random) {
  if (!IsKnownHash(o.hash)) {
    return UsageError("unknown LUKS hash '" + o.hash + "'");
  }
  LuksArea area;
  LuksHeader& h = area.header;
  h.cipher_name = CipherFamilyName(o.suite.family);
  h.cipher_mode = ModeString(o.suite);
  h.hash_spec = o.hash;
  h.key_bytes = static_cast<uint32_t>(o.suite.key_bytes);
  h.suite = o.suite;
  // SPEC(L1.OPS.key_material_sectors)
  const uint64_t slot_sectors = h.slot_sectors();
  for (int k = 0; k < kLuksSlots; ++k) {
    h.slots[k].active = kLuksSlotDisabled;
    h.slots[k].stripes = kLuksStripes;
    h.slots[k].key_material_offset =
        static_cast<uint32_t>(kLuksHeaderSectors + k * slot_sectors);
  }
  h.payload_offset =
      static_cast<uint32_t>(kLuksHeaderSectors + kLuksSlots * slot_sectors);
  h.uuid = Uuid(random);
  area.master_key = SecretBytes(h.key_bytes);
  random(area.master_key.data(), area.master_key.size());
  random(h.mk_digest_salt.data(), h.mk_digest_salt.size());
  // Iteration counts as QEMU derives them from an iteration time.
  uint32_t slot_iter = o.slot_iterations;
  uint32_t digest_iter = o.digest_iterations;
  if (slot_iter == 0 || digest_iter == 0) {
    const uint64_t slot_rate = MeasurePbkdf2Rate(o.hash, h.key_bytes);
    const uint64_t mk_rate = MeasurePbkdf2Rate(o.hash, kLuksDigestSize);
    if (slot_iter == 0) {
      // Derived counts stay within what the reader runs
      // (QX.LIMIT.pbkdf2_open_budget: slot + digest <= 2 * cap).
      slot_iter = static_cast<uint32_t>(std::min<uint64_t>(
          kMaxPbkdf2Iterations,
          std::max<uint64_t>(kMinIterations,
                             slot_rate * o.iter_time_ms / 1000)));
    }
    if (digest_iter == 0) {
      digest_iter = static_cast<uint32_t>(std::min<uint64_t>(
          kMaxPbkdf2Iterations,
          std::max<uint64_t>(kMinIterations,
                             mk_rate * o.iter_time_ms / 1000 / 8)));
    }
  }
  // SPEC(L1.PHDR.mk_digest_iter_nonzero)
  h.mk_digest_iter = std::max(digest_iter, kMinIterations);
  h.slots[0].iterations = std::max(slot_iter, kMinIterations);
  // SPEC(QX.LIMIT.pbkdf2_open_budget): judged before any PBKDF2 runs.
  QCOW2REF_RETURN_IF_ERROR(RefuseUnopenable(h, 0));
  QCOW2REF_ASSIGN_OR_RETURN(
      SecretBytes digest,
      Pbkdf2(o.hash, area.master_key.data(), area.master_key.size(),
             h.mk_digest_salt.data(), h.mk_digest_salt.size(), h.mk_digest_iter,
             kLuksDigestSize));
  std::memcpy(h.mk_digest.data(), digest.data(), kLuksDigestSize);
  area.bytes.assign(uint64_t{h.payload_offset} * kSectorSize, 0);
  QCOW2REF_RETURN_IF_ERROR(FillKeySlot(&area, 0, pass, slot_iter, random));
  return area;
}

}  // namespace qcow2ref
