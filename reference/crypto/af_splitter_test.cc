#include "reference/crypto/af_splitter.h"

#include <cryptopp/sha.h>
#include <gtest/gtest.h>

#include <cstring>

#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

void Counter(uint8_t* out, size_t n) {
  static uint8_t c = 0;
  for (size_t i = 0; i < n; ++i) out[i] = c++;
}

TEST(AfSplitterTest, SplitThenMergeForEveryHash) {
  QCOW2_SPEC("L1.AF.split");
  QCOW2_SPEC("L1.AF.merge");
  uint8_t key[64];
  for (int i = 0; i < 64; ++i) key[i] = static_cast<uint8_t>(i * 7 + 1);
  for (const char* h :
       {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"}) {
    for (size_t len : {16, 24, 32, 64}) {
      auto split = AfSplit(h, key, len, 4000, Counter);
      ASSERT_TRUE(split.ok()) << h;
      auto merged = AfMerge(h, split->data(), len, 4000);
      ASSERT_TRUE(merged.ok());
      EXPECT_EQ(std::memcmp(merged->data(), key, len), 0) << h << " " << len;
    }
  }
}

TEST(AfSplitterTest, TwoStripesByHand) {
  QCOW2_SPEC("L1.AF.diffuse_h1");
  QCOW2_SPEC("L1.AF.hash");
  // With 2 stripes s1, s2 and a 40-byte key (two SHA-256 chunks, the second
  // cropped to 8 bytes): d1 = H1(s1) where chunk i -> SHA256(BE32(i) ||
  // chunk i) cropped; key = d1 XOR s2. Computed here with raw SHA-256.
  uint8_t material[80];
  for (int i = 0; i < 80; ++i) material[i] = static_cast<uint8_t>(200 - i);
  uint8_t expect[40];
  for (uint32_t chunk = 0; chunk < 2; ++chunk) {
    CryptoPP::SHA256 sha;
    const uint8_t be[4] = {0, 0, 0, static_cast<uint8_t>(chunk)};
    sha.Update(be, 4);
    const size_t n = chunk == 0 ? 32 : 8;
    sha.Update(material + 32 * chunk, n);
    uint8_t d[32];
    sha.Final(d);
    for (size_t i = 0; i < n; ++i) {
      expect[32 * chunk + i] = d[i] ^ material[40 + 32 * chunk + i];
    }
  }
  auto merged = AfMerge("sha256", material, 40, 2);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(std::memcmp(merged->data(), expect, 40), 0);
}

TEST(AfSplitterTest, Rejections) {
  uint8_t m[32] = {};
  EXPECT_FALSE(AfMerge("nohash", m, 16, 2).ok());
  EXPECT_FALSE(AfMerge("sha1", m, 16, 0).ok());
  // Splitting into zero stripes is refused the same way, before any output.
  auto split = AfSplit("sha1", m, 16, 0,
                       [](uint8_t* p, size_t n) { std::memset(p, 0x11, n); });
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.error().clause, "L1.KS.stripes_4000");
  EXPECT_FALSE(AfSplit("nohash", m, 16, 2, [](uint8_t*, size_t) {}).ok());
}

}  // namespace
}  // namespace qcow2ref
