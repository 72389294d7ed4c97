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

struct LuksUnlockResult {
  SecretBytes master_key;
  int slot = -1;
};

// Tries every enabled slot in order (L1.MKD.try_active_slots). `area` reads
// the LUKS area (offset 0 = the LUKS header); its offset in the file is
// `area_offset`, for messages.
Result<LuksUnlockResult> UnlockLuks(const LuksHeader& h, const ByteSource& file,
                                    uint64_t area_offset,
                                    const SecretBytes& passphrase);

// The digest check alone: PBKDF2(candidate, salt, iter, 20) == mk_digest.
Result<bool> LuksMasterKeyMatches(const LuksHeader& h,
                                  const SecretBytes& candidate);

// Legacy AES (crypt_method 1): AES-128-CBC keyed by the passphrase's first
// 16 bytes, zero-padded, with plain64 IVs (Q2.ENC.aes.key_128).
Result<std::unique_ptr<SectorCipher>> LegacyAesCipher(
    const SecretBytes& passphrase);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_LUKS_UNLOCK_H_
