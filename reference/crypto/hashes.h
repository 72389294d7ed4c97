// Hash functions named in LUKS headers (hash-spec, ESSIV hash), and PBKDF2
// over them. All from Crypto++.
#ifndef QCOW2REF_REFERENCE_CRYPTO_HASHES_H_
#define QCOW2REF_REFERENCE_CRYPTO_HASHES_H_

#include <cryptopp/cryptlib.h>

#include <cstdint>
#include <memory>
#include <string>

#include "reference/crypto/secret.h"
#include "reference/status/status.h"

namespace qcow2ref {

// md5, sha1, sha224, sha256, sha384, sha512, ripemd160; null otherwise.
std::unique_ptr<CryptoPP::HashTransformation> HashByName(
    const std::string& name);

bool IsKnownHash(const std::string& name);

// PBKDF2-HMAC-<hash> (L1.PBKDF2.algorithm). `hash` must be known.
Result<SecretBytes> Pbkdf2(const std::string& hash, const uint8_t* password,
                           size_t password_len, const uint8_t* salt,
                           size_t salt_len, uint32_t iterations,
                           size_t out_len);

// Constant-time equality of two equal-length buffers.
bool ConstantTimeEqual(const uint8_t* a, const uint8_t* b, size_t n);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_HASHES_H_
