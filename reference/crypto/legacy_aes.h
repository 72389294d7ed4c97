// Legacy AES (crypt_method 1): the payload cipher derived from a passphrase.
#ifndef QCOW2REF_REFERENCE_CRYPTO_LEGACY_AES_H_
#define QCOW2REF_REFERENCE_CRYPTO_LEGACY_AES_H_

#include <memory>

#include "reference/crypto/secret.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/status/status.h"

namespace qcow2ref {

// AES-128-CBC keyed by the passphrase's first 16 bytes, zero-padded, with
// plain64 IVs (Q2.ENC.aes.key_128, Q2.ENC.aes.cbc). Nothing in the image can
// confirm the key (QX.ENC.aes.no_key_check).
Result<std::unique_ptr<SectorCipher>> LegacyAesCipher(
    const SecretBytes& passphrase);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_LEGACY_AES_H_
