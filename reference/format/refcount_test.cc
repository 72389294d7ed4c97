#include "reference/format/refcount.h"

#include <gtest/gtest.h>

#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

TEST(RefcountTest, SubByteWidthsAreLsbFirst) {
  QCOW2_SPEC("Q2.RC.width");
  // Byte 0xB4 = 1011 0100b. 1-bit entries from bit 0: 0,0,1,0,1,1,0,1.
  const uint8_t block[2] = {0xB4, 0x01};
  const int expect1[8] = {0, 0, 1, 0, 1, 1, 0, 1};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(GetRefcount(block, i, 0), expect1[i]);
  // 2-bit entries: 00, 01, 11, 10 -> 0, 1, 3, 2.
  EXPECT_EQ(GetRefcount(block, 0, 1), 0u);
  EXPECT_EQ(GetRefcount(block, 1, 1), 1u);
  EXPECT_EQ(GetRefcount(block, 2, 1), 3u);
  EXPECT_EQ(GetRefcount(block, 3, 1), 2u);
  // 4-bit entries: low nibble first: 4, 0xB, then 1.
  EXPECT_EQ(GetRefcount(block, 0, 2), 4u);
  EXPECT_EQ(GetRefcount(block, 1, 2), 11u);
  EXPECT_EQ(GetRefcount(block, 2, 2), 1u);
}

TEST(RefcountTest, WideWidthsAreBigEndian) {
  QCOW2_SPEC("Q2.RC.width");
  const uint8_t block[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                             0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
  EXPECT_EQ(GetRefcount(block, 1, 3), 0x02u);
  EXPECT_EQ(GetRefcount(block, 1, 4), 0x0304u);
  EXPECT_EQ(GetRefcount(block, 1, 5), 0x05060708u);
  EXPECT_EQ(GetRefcount(block, 1, 6), 0x090a0b0c0d0e0f10ull);
}

TEST(RefcountTest, SetThenGetEveryWidth) {
  for (uint32_t order = 0; order <= 6; ++order) {
    uint8_t block[64] = {};
    const uint64_t max = order == 6 ? ~0ull : (1ull << (1u << order)) - 1;
    for (uint64_t i = 0; i < 8; ++i)
      SetRefcount(block, i, order, (i * 5) & max);
    SetRefcount(block, 3, order, max);
    for (uint64_t i = 0; i < 8; ++i) {
      EXPECT_EQ(GetRefcount(block, i, order), i == 3 ? max : (i * 5) & max)
          << "order " << order << " index " << i;
    }
  }
}

}  // namespace
}  // namespace qcow2ref
