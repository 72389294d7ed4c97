#include "reference/format/bitmap_directory.h"

#include <gtest/gtest.h>

#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;

// One directory entry laid out by hand (24-byte fixed part, extra data,
// name, padding to 8) for a 1 MiB disk with 64 KiB clusters.
std::vector<uint8_t> Entry(uint32_t extra, const std::string& name,
                           uint32_t flags = 0, uint8_t gran = 16,
                           uint32_t table_size = 1) {
  std::vector<uint8_t> e(24 + extra + name.size(), 0);
  PutBe(e, 0, 0x50000, 8);
  PutBe(e, 8, table_size, 4);
  PutBe(e, 12, flags, 4);
  e[16] = 1;  // type: dirty tracking
  e[17] = gran;
  PutBe(e, 18, name.size(), 2);
  PutBe(e, 20, extra, 4);
  std::copy(name.begin(), name.end(), e.begin() + 24 + extra);
  e.resize((e.size() + 7) / 8 * 8, 0);
  return e;
}

Result<std::vector<BitmapEntry>> Parse(const std::vector<uint8_t>& dir,
                                       uint32_t n = 1) {
  Header h;
  h.size = 1 << 20;
  return ParseBitmapDirectory(h, dir.data(), dir.size(), n, 0x40000);
}

TEST(BitmapDirectoryTest, ParsesEntriesAndSkipsExtraData) {
  QCOW2_SPEC("Q2.BM.entry_layout");
  QCOW2_SPEC("Q2.BM.extra_data");
  auto dir = Entry(0, "b1");
  auto more = Entry(8, "second", 3);
  dir.insert(dir.end(), more.begin(), more.end());
  auto r = Parse(dir, 2);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].name, "second");
  EXPECT_EQ((*r)[1].flags, 3u);
}

TEST(BitmapDirectoryTest, Rejections) {
  QCOW2_SPEC("Q2.BM.name_size");
  QCOW2_SPEC("Q2.BM.extra_data_compatible");
  QCOW2_SPEC("QX.LIMIT.bitmap_count");
  QCOW2_SPEC("Q2.BM.table_size");
  EXPECT_EQ(Parse(Entry(0, "")).error().clause, "Q2.BM.name_size");
  // Flag bit 2 (extra_data_compatible) is treated as reserved, as QEMU does.
  EXPECT_EQ(Parse(Entry(0, "b", 4)).error().clause, "Q2.BM.reserved_flags");
  // A table of 0 entries cannot cover the disk; more than 2^27 entries is
  // QEMU's cap (hand-derived: 0x8000001 > 0x8000000).
  EXPECT_EQ(Parse(Entry(0, "b", 0, 16, 0)).error().clause, "Q2.BM.table_size");
  // A 1 MiB disk at 64 KiB granularity needs 16 bits: one cluster of table.
  // Two entries describe another disk size; QEMU refuses them when it loads
  // the bitmap (n_bm_table_size_long).
  EXPECT_TRUE(Parse(Entry(0, "b", 0, 16, 1)).ok());
  EXPECT_EQ(Parse(Entry(0, "b", 0, 16, 2)).error().clause, "Q2.BM.table_size");
  // A header size that is not a sector multiple counts as QEMU counts it,
  // rounded down: 256 MiB + 100 bytes at 512-byte granularity is 2^19 bits,
  // exactly one 64 KiB cluster of table (the raw size would need two).
  Header odd;
  odd.size = (uint64_t{256} << 20) + 100;
  const auto one = Entry(0, "b", 0, 9, 1);
  EXPECT_TRUE(
      ParseBitmapDirectory(odd, one.data(), one.size(), 1, 0x40000).ok());
  const auto two = Entry(0, "b", 0, 9, 2);
  EXPECT_EQ(ParseBitmapDirectory(odd, two.data(), two.size(), 1, 0x40000)
                .error()
                .clause,
            "Q2.BM.table_size");
  EXPECT_EQ(Parse(Entry(0, "b", 0, 16, 0x8000001)).error().clause,
            "QX.LIMIT.bitmap_count");
  EXPECT_EQ(Parse(Entry(0, "b"), 2).error().clause, "Q2.BM.count");
}

}  // namespace
}  // namespace qcow2ref
