// qcow2ref's Pbkdf2 (HMAC pad blocks hashed once, reference/crypto/hashes.cc)
// gives the same bytes as Crypto++'s stock PKCS5_PBKDF2_HMAC for every LUKS
// hash, over passwords shorter and longer than the hash block (64 and 128
// bytes), empty salts, iteration counts 0 to 3, and outputs that end inside a
// digest. The published vectors are in reference/crypto/hashes_test.cc and
// vectors/kat/pbkdf2_test.json.
#define CRYPTOPP_ENABLE_NAMESPACE_WEAK 1
#include <cryptopp/md5.h>
#include <cryptopp/pwdbased.h>
#include <cryptopp/ripemd.h>
#include <cryptopp/sha.h>
#include <gtest/gtest.h>

#include <vector>

#include "reference/crypto/hashes.h"

namespace qcow2ref {
namespace {

template <class H>
void ExpectSameAsCryptopp(const std::string& name) {
  std::vector<uint8_t> pw(200), salt(40);
  for (size_t i = 0; i < pw.size(); ++i) pw[i] = static_cast<uint8_t>(i * 13);
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<uint8_t>(~i);
  for (size_t pw_len : {0, 1, 20, 63, 64, 65, 127, 128, 129, 200}) {
    for (size_t salt_len : {0, 8, 32, 40}) {
      for (uint32_t iterations : {0, 1, 2, 3}) {
        for (size_t out_len : {1, 20, 33, 64, 100}) {
          std::vector<uint8_t> want(out_len);
          CryptoPP::PKCS5_PBKDF2_HMAC<H>().DeriveKey(
              want.data(), want.size(), 0, pw.data(), pw_len, salt.data(),
              salt_len, iterations);
          auto got = Pbkdf2(name, pw.data(), pw_len, salt.data(), salt_len,
                            iterations, out_len);
          ASSERT_TRUE(got.ok());
          ASSERT_EQ(std::vector<uint8_t>(got->begin(), got->end()), want)
              << name << " pw " << pw_len << " salt " << salt_len << " iter "
              << iterations << " out " << out_len;
        }
      }
    }
  }
}

TEST(Pbkdf2EquivalenceTest, EveryHash) {
  ExpectSameAsCryptopp<CryptoPP::Weak::MD5>("md5");
  ExpectSameAsCryptopp<CryptoPP::SHA1>("sha1");
  ExpectSameAsCryptopp<CryptoPP::SHA224>("sha224");
  ExpectSameAsCryptopp<CryptoPP::SHA256>("sha256");
  ExpectSameAsCryptopp<CryptoPP::SHA384>("sha384");
  ExpectSameAsCryptopp<CryptoPP::SHA512>("sha512");
  ExpectSameAsCryptopp<CryptoPP::RIPEMD160>("ripemd160");
}

TEST(Pbkdf2EquivalenceTest, EmptyOutput) {
  const uint8_t x = 0;
  auto got = Pbkdf2("sha256", &x, 1, &x, 1, 10, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 0u);
}

}  // namespace
}  // namespace qcow2ref
