#include "reference/writer/random_source.h"

#include <cryptopp/chacha.h>
#include <cryptopp/osrng.h>
#include <cryptopp/sha.h>

#include <cstring>

namespace qcow2ref {

RandomFill OsRandom() {
  auto pool = std::make_shared<CryptoPP::AutoSeededRandomPool>();
  return [pool](uint8_t* out, size_t n) { pool->GenerateBlock(out, n); };
}

RandomFill DeterministicRandom(const std::vector<uint8_t>& seed) {
  // SPEC(QX.WRITE.deterministic_seed)
  uint8_t key[32];
  CryptoPP::SHA256().CalculateDigest(key, seed.data(), seed.size());
  const uint8_t iv[8] = {};
  auto chacha = std::make_shared<CryptoPP::ChaCha::Encryption>();
  chacha->SetKeyWithIV(key, sizeof key, iv, sizeof iv);
  return [chacha](uint8_t* out, size_t n) {
    std::memset(out, 0, n);
    chacha->ProcessData(out, out, n);
  };
}

}  // namespace qcow2ref
