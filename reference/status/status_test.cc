#include "reference/status/status.h"

#include <gtest/gtest.h>

#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Rejected("QX.TEST.odd", 7, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  QCOW2REF_ASSIGN_OR_RETURN(int h, Half(x));
  QCOW2REF_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, PropagatesFirstError) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);  // 6/2 = 3 is odd.
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().ToString(), "QX.TEST.odd: odd (at byte 7)");
}

TEST(StatusTest, ErrorWithoutOffset) {
  EXPECT_EQ(Unsupported("Q2.X.y", std::nullopt, "m").ToString(), "Q2.X.y: m");
}

TEST(CheckedMathTest, DetectsOverflow) {
  EXPECT_FALSE(CheckedAdd(UINT64_MAX, 1).has_value());
  EXPECT_EQ(*CheckedAdd(2, 3), 5u);
  EXPECT_FALSE(CheckedMul(1ull << 32, 1ull << 32).has_value());
  EXPECT_TRUE(RangeWithin(10, 5, 15));
  EXPECT_FALSE(RangeWithin(10, 6, 15));
  EXPECT_FALSE(RangeWithin(16, 0, 15));
  // An empty range at the very end is inside; the whole range is inside.
  EXPECT_TRUE(RangeWithin(15, 0, 15));
  EXPECT_TRUE(RangeWithin(0, 15, 15));
  EXPECT_FALSE(RangeWithin(15, 1, 15));
  EXPECT_FALSE(RangeWithin(1, UINT64_MAX, 15));
  EXPECT_EQ(DivRoundUp(10, 4), 3u);
  EXPECT_EQ(DivRoundUp(8, 4), 2u);
}

}  // namespace
}  // namespace qcow2ref
