#include "reference/crypto/legacy_aes.h"

#include <algorithm>
#include <cstring>

namespace qcow2ref {

Result<std::unique_ptr<SectorCipher>> LegacyAesCipher(const SecretBytes& pass) {
  // SPEC(Q2.ENC.aes.key_128): first 16 passphrase bytes, zero-padded.
  SecretBytes key(16);
  std::memset(key.data(), 0, key.size());
  std::memcpy(key.data(), pass.data(), std::min<size_t>(16, pass.size()));
  // SPEC(Q2.ENC.aes.cbc)
  CipherSuite suite;
  suite.family = CipherFamily::kAes;
  suite.mode = CipherMode::kCbc;
  suite.ivgen = IvGen::kPlain64;
  suite.key_bytes = 16;
  return SectorCipher::Create(suite, key.data(), key.size());
}

}  // namespace qcow2ref
