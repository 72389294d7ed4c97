// Secrets (passphrases, keys) live in Crypto++ SecByteBlock, which wipes its
// memory when freed (QX.ENC.secret_hygiene).
#ifndef QCOW2REF_REFERENCE_CRYPTO_SECRET_H_
#define QCOW2REF_REFERENCE_CRYPTO_SECRET_H_

#include <cryptopp/secblock.h>

#include <cstdint>
#include <string>

namespace qcow2ref {

using SecretBytes = CryptoPP::SecByteBlock;

inline SecretBytes SecretFromString(const std::string& s) {
  return SecretBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_SECRET_H_
