#define CRYPTOPP_ENABLE_NAMESPACE_WEAK 1
#include "reference/crypto/hashes.h"

#include <cryptopp/hmac.h>
#include <cryptopp/md5.h>
#include <cryptopp/misc.h>
#include <cryptopp/pwdbased.h>
#include <cryptopp/ripemd.h>
#include <cryptopp/sha.h>

namespace qcow2ref {
namespace {

template <class H>
SecretBytes RunPbkdf2(const uint8_t* pw, size_t pw_len, const uint8_t* salt,
                      size_t salt_len, uint32_t iterations, size_t out_len) {
  SecretBytes out(out_len);
  CryptoPP::PKCS5_PBKDF2_HMAC<H> kdf;
  kdf.DeriveKey(out.data(), out.size(), 0, pw, pw_len, salt, salt_len,
                iterations);
  return out;
}

}  // namespace

std::unique_ptr<CryptoPP::HashTransformation> HashByName(
    const std::string& name) {
  if (name == "md5") return std::make_unique<CryptoPP::Weak::MD5>();
  if (name == "sha1") return std::make_unique<CryptoPP::SHA1>();
  if (name == "sha224") return std::make_unique<CryptoPP::SHA224>();
  if (name == "sha256") return std::make_unique<CryptoPP::SHA256>();
  if (name == "sha384") return std::make_unique<CryptoPP::SHA384>();
  if (name == "sha512") return std::make_unique<CryptoPP::SHA512>();
  if (name == "ripemd160") return std::make_unique<CryptoPP::RIPEMD160>();
  return nullptr;
}

bool IsKnownHash(const std::string& name) {
  return HashByName(name) != nullptr;
}

Result<SecretBytes> Pbkdf2(const std::string& hash, const uint8_t* pw,
                           size_t pw_len, const uint8_t* salt, size_t salt_len,
                           uint32_t iterations, size_t out_len) {
  // SPEC(L1.PBKDF2.algorithm)
  try {
    if (hash == "md5") {
      return RunPbkdf2<CryptoPP::Weak::MD5>(pw, pw_len, salt, salt_len,
                                            iterations, out_len);
    }
    if (hash == "sha1") {
      return RunPbkdf2<CryptoPP::SHA1>(pw, pw_len, salt, salt_len, iterations,
                                       out_len);
    }
    if (hash == "sha224") {
      return RunPbkdf2<CryptoPP::SHA224>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "sha256") {
      return RunPbkdf2<CryptoPP::SHA256>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "sha384") {
      return RunPbkdf2<CryptoPP::SHA384>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "sha512") {
      return RunPbkdf2<CryptoPP::SHA512>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "ripemd160") {
      return RunPbkdf2<CryptoPP::RIPEMD160>(pw, pw_len, salt, salt_len,
                                            iterations, out_len);
    }
  } catch (const CryptoPP::Exception& e) {
    return Rejected("L1.PBKDF2.algorithm", std::nullopt,
                    std::string("PBKDF2 failed: ") + e.what());
  }
  return Unsupported("L1.PHDR.hash_spec", std::nullopt,
                     "unknown hash '" + hash + "'");
}

bool ConstantTimeEqual(const uint8_t* a, const uint8_t* b, size_t n) {
  return CryptoPP::VerifyBufsEqual(a, b, n);
}

}  // namespace qcow2ref
