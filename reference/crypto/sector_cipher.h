// A LUKS-style cipher suite (cipher family, key size, mode, IV generator)
// applied to 512-byte sectors, each with an IV from its 64-bit sector number.
#ifndef QCOW2REF_REFERENCE_CRYPTO_SECTOR_CIPHER_H_
#define QCOW2REF_REFERENCE_CRYPTO_SECTOR_CIPHER_H_

#include <cryptopp/cryptlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "reference/crypto/secret.h"
#include "reference/status/status.h"

namespace qcow2ref {

// SPEC(L1.OPS.sector_size)
inline constexpr size_t kSectorSize = 512;

// Requests of at least this many bytes are split over two threads.
inline constexpr size_t kParallelBytes = 256 * 1024;

enum class CipherFamily { kAes, kSerpent, kTwofish, kCast5 };
enum class CipherMode { kEcb, kCbc, kCtr, kXts };
enum class IvGen { kPlain, kPlain64, kEssiv };

// The LUKS cipher-name of a family: "aes", "serpent", "twofish", "cast5".
const char* CipherFamilyName(CipherFamily f);

struct CipherSuite {
  CipherFamily family = CipherFamily::kAes;
  CipherMode mode = CipherMode::kXts;
  IvGen ivgen = IvGen::kPlain64;
  std::string iv_hash;    // ESSIV hash (or the ignored plain/plain64 one).
  size_t key_bytes = 64;  // Whole key (both halves for XTS).

  size_t block_size() const { return family == CipherFamily::kCast5 ? 8 : 16; }
  // e.g. "aes-256-xts-plain64", "cast5-128-cbc-essiv:sha256".
  std::string Name() const;
};

// Parses LUKS cipher-name + cipher-mode + key-bytes (L1.PHDR.cipher_name,
// L1.PHDR.cipher_mode, L1.PHDR.key_bytes). Errors name the clause.
Result<CipherSuite> ParseCipherSuite(const std::string& cipher_name,
                                     const std::string& cipher_mode,
                                     uint64_t key_bytes);

// Parses a dm-crypt style spec "aes-256-xts-plain64" (used by the CLI).
Result<CipherSuite> ParseCipherSpec(const std::string& spec);

// Keyed cipher for whole 512-byte sectors.
class SectorCipher {
 public:
  static Result<std::unique_ptr<SectorCipher>> Create(const CipherSuite& suite,
                                                      const uint8_t* key,
                                                      size_t key_len);
  ~SectorCipher();

  // Decrypts/encrypts `length` bytes (a multiple of 512) in place; the first
  // sector has number `first_sector`, the next first_sector + 1, ...
  // From kParallelBytes on, the second half runs on a second thread.
  Status Decrypt(uint8_t* data, size_t length, uint64_t first_sector);
  Status Encrypt(uint8_t* data, size_t length, uint64_t first_sector);

  // An independent cipher with the same suite and key, for a caller's own
  // thread (Crypto++ mode objects keep per-call state, so no two threads may
  // share one). It never starts threads of its own.
  Result<std::unique_ptr<SectorCipher>> Fork() const;

  // The IV of a sector (for tests and known-answer vectors).
  Result<SecretBytes> Iv(uint64_t sector);

  const CipherSuite& suite() const { return suite_; }

 private:
  SectorCipher() = default;
  static Result<std::unique_ptr<SectorCipher>> CreateOne(
      const CipherSuite& suite, const uint8_t* key, size_t key_len);
  Status Process(bool encrypt, uint8_t* data, size_t length,
                 uint64_t first_sector);
  Status ProcessLarge(bool encrypt, uint8_t* data, size_t length,
                      uint64_t first_sector);
  void MakeIv(uint64_t sector, uint8_t* iv);

  CipherSuite suite_;
  SecretBytes key_;  // For Fork.
  std::unique_ptr<CryptoPP::SymmetricCipher> enc_;
  std::unique_ptr<CryptoPP::SymmetricCipher> dec_;
  std::unique_ptr<CryptoPP::BlockCipher> essiv_;  // ECB cipher for ESSIV.
  // Same suite and key, for the second thread of large requests.
  std::unique_ptr<SectorCipher> twin_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CRYPTO_SECTOR_CIPHER_H_
