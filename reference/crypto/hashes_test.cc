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

TEST(Pbkdf2Test, ParallelBlocksSha256) {
  QCOW2_SPEC("L1.PBKDF2.algorithm");
  // RFC 7914 section 11's second parameter set (P="Password", S="NaCl",
  // c=80000, dkLen=64): two output blocks, above the iteration count where
  // they are derived on two threads. Expected bytes from Python's
  // hashlib.pbkdf2_hmac("sha256", b"Password", b"NaCl", 80000, 64).
  EXPECT_EQ(Kdf("sha256", "Password", "NaCl", 80000, 64),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
            "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
  // Five SHA-1 blocks (100 bytes) on five threads; hashlib.pbkdf2_hmac(
  // "sha1", b"pass", b"salt", 20000, 100).
  EXPECT_EQ(Kdf("sha1", "pass", "salt", 20000, 100),
            "22770704018b39b6d90ac127213b7a5ab7d9a9f0e183c3ddc63384f6cbb69955"
            "b2b5e5e62532242cbbdf5d3e141409d299280c44adcde9fec158bfb74cadb238"
            "a77971753a77d5e141f2a15261e390123434ee0187090a6781a725a4a1eba7e7"
            "469aa967");
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
