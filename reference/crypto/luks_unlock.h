// Unlocking a LUKS1 key slot: PBKDF2 slot key -> decrypt key material ->
// AF-merge -> master-key digest check.
#ifndef QCOW2REF_REFERENCE_CRYPTO_LUKS_UNLOCK_H_
#define QCOW2REF_REFERENCE_CRYPTO_LUKS_UNLOCK_H_

#include <cstdint>

#include "reference/crypto/luks_header.h"
#include "reference/crypto/secret.h"
#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

// QX.LIMIT.pbkdf2_iterations_cap: the largest PBKDF2 iteration count we run
// (about a minute of SHA-256 on one core); fuzz builds use far less.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
inline constexpr uint32_t kMaxPbkdf2Iterations = 2000;
#else
inline constexpr uint32_t kMaxPbkdf2Iterations = 1u << 26;
#endif

// QX.LIMIT.pbkdf2_open_budget: the PBKDF2 iterations one open may spend in
// the worst case: every active slot (tried in ascending slot number), each
// followed by the master-key digest. An image that could cost more is
// refused before any PBKDF2 runs (about two minutes of SHA-256 at most).
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
inline constexpr uint64_t kMaxPbkdf2IterationsPerOpen = 8000;
#else
inline constexpr uint64_t kMaxPbkdf2IterationsPerOpen = uint64_t{1} << 27;
#endif

struct LuksUnlockResult {
  SecretBytes master_key;
  int slot = -1;
};

// The PBKDF2 iterations an open of `h` costs at worst: the sum over active
// slots of the slot's count plus the master-key digest's.
uint64_t LuksOpenCost(const LuksHeader& h);

// Refuses a header whose open could cost more than `budget` iterations, or
// with one count above kMaxPbkdf2Iterations (QX.LIMIT.pbkdf2_open_budget,
// QX.LIMIT.pbkdf2_iterations_cap). The writer calls it before writing a
// slot, so that qcow2ref never writes an image it would refuse.
Status CheckLuksOpenBudget(const LuksHeader& h, uint64_t area_offset,
                           uint64_t budget = kMaxPbkdf2IterationsPerOpen);

// Tries every enabled slot in ascending slot number (L1.MKD.try_active_slots)
// after checking the whole open fits `budget`. `area` reads the LUKS area
// (offset 0 = the LUKS header); its offset in the file is `area_offset`, for
// messages.
Result<LuksUnlockResult> UnlockLuks(
    const LuksHeader& h, const ByteSource& file, uint64_t area_offset,
    const SecretBytes& passphrase,
    uint64_t budget = kMaxPbkdf2IterationsPerOpen);

// The digest check alone: PBKDF2(candidate, salt, iter, 20) == mk_digest.
Result<bool> LuksMasterKeyMatches(const LuksHeader& h,
                                  const SecretBytes& candidate);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_LUKS_UNLOCK_H_
