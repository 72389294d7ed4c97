#include "reference/crypto/hashes.h"

#include <gtest/gtest.h>

#include <string>

#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

std::string Hex(const SecretBytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

std::string Kdf(const std::string& hash, const std::string& pw,
                const std::string& salt, uint32_t iter, size_t len) {
  auto r = Pbkdf2(hash, reinterpret_cast<const uint8_t*>(pw.data()), pw.size(),
                  reinterpret_cast<const uint8_t*>(salt.data()), salt.size(),
                  iter, len);
  EXPECT_TRUE(r.ok());
  return r.ok() ? Hex(*r) : "";
}

TEST(Pbkdf2Test, Rfc6070Sha1) {
  QCOW2_SPEC("L1.PBKDF2.algorithm");
  // RFC 6070 section 2, test vectors 1, 2 and 3.
  EXPECT_EQ(Kdf("sha1", "password", "salt", 1, 20),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  EXPECT_EQ(Kdf("sha1", "password", "salt", 2, 20),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
  EXPECT_EQ(Kdf("sha1", "password", "salt", 4096, 20),
            "4b007901b765489abead49d926f721d065a429c1");
}

TEST(Pbkdf2Test, Rfc7914Sha256) {
  QCOW2_SPEC("L1.PBKDF2.algorithm");
  // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1.
  EXPECT_EQ(Kdf("sha256", "passwd", "salt", 1, 64),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST(Pbkdf2Test, UnknownHash) {
  QCOW2_SPEC("L1.PHDR.hash_spec");
  EXPECT_FALSE(IsKnownHash("whirlpool"));
  for (const char* h :
       {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"}) {
    EXPECT_TRUE(IsKnownHash(h)) << h;
  }
  uint8_t x = 0;
  EXPECT_FALSE(Pbkdf2("whirlpool", &x, 1, &x, 1, 1, 16).ok());
}

TEST(ConstantTimeEqualTest, Compares) {
  const uint8_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4};
  EXPECT_TRUE(ConstantTimeEqual(a, a, 3));
  EXPECT_FALSE(ConstantTimeEqual(a, b, 3));
}

}  // namespace
}  // namespace qcow2ref
