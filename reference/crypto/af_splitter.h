// LUKS1 anti-forensic split and merge with the H1 diffusion function.
#ifndef QCOW2REF_REFERENCE_CRYPTO_AF_SPLITTER_H_
#define QCOW2REF_REFERENCE_CRYPTO_AF_SPLITTER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "reference/crypto/secret.h"
#include "reference/status/status.h"

namespace qcow2ref {

// Recovers a key of `key_len` bytes from `stripes` stripes of key material
// (key_len * stripes bytes) (L1.AF.merge).
Result<SecretBytes> AfMerge(const std::string& hash, const uint8_t* material,
                            size_t key_len, uint32_t stripes);

// Splits `key` into key_len * stripes bytes; `random` fills the first
// stripes - 1 stripes (L1.AF.split).
Result<SecretBytes> AfSplit(
    const std::string& hash, const uint8_t* key, size_t key_len,
    uint32_t stripes, const std::function<void(uint8_t*, size_t)>& random);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_AF_SPLITTER_H_
