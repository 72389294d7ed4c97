#include "reference/format/snapshot_table.h"

#include <gtest/gtest.h>

#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;

// One entry laid out by hand: 40-byte fixed part, 24 bytes of extra data,
// id "1", name "s1" -> 40 + 24 + 1 + 2 = 67, padded to 72.
std::vector<uint8_t> OneEntry() {
  std::vector<uint8_t> b(72, 0);
  PutBe(b, 0, 0x70000, 8);  // l1_table_offset
  PutBe(b, 8, 1, 4);        // l1_size
  PutBe(b, 12, 1, 2);       // id_str_size
  PutBe(b, 14, 2, 2);       // name_size
  PutBe(b, 16, 1700000000, 4);
  PutBe(b, 36, 24, 4);       // extra_data_size
  PutBe(b, 48, 1 << 20, 8);  // extra: disk_size
  PutBe(b, 56, ~0ull, 8);    // extra: icount
  b[64] = '1';
  b[65] = 's';
  b[66] = '1';
  return b;
}

TEST(SnapshotTableTest, ParsesEntry) {
  QCOW2_SPEC("Q2.SNAP.entry_layout");
  auto b = OneEntry();
  auto two = b;
  two.insert(two.end(), b.begin(), b.end());
  auto s = ParseSnapshotTable(two.data(), two.size(), 2, 0x60000);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].entry_offset, 0x60000u + 72);
  EXPECT_EQ((*s)[0].id, "1");
  EXPECT_EQ((*s)[0].name, "s1");
  EXPECT_EQ(*(*s)[0].disk_size, 1u << 20);
  EXPECT_EQ((*s)[0].l1_table_offset, 0x70000u);
  EXPECT_EQ(SerializeSnapshotTable(*s), two);
}

TEST(SnapshotTableTest, OverrunAndLimits) {
  QCOW2_SPEC("Q2.SNAP.table_bounds");
  QCOW2_SPEC("QX.LIMIT.snapshot_table_size");
  auto b = OneEntry();
  EXPECT_EQ(ParseSnapshotTable(b.data(), b.size(), 2, 0).error().clause,
            "Q2.SNAP.table_bounds");
  EXPECT_EQ(ParseSnapshotTable(b.data(), 60, 1, 0).error().clause,
            "Q2.SNAP.table_bounds");
  PutBe(b, 36, 1025, 4);
  EXPECT_EQ(ParseSnapshotTable(b.data(), b.size(), 1, 0).error().clause,
            "QX.LIMIT.snapshot_table_size");
}

TEST(SnapshotTableTest, LastPaddingPastEof) {
  // QEMU sizes the table without the last entry's padding: 67 bytes of a
  // 72-byte entry may end the file (errata #27).
  QCOW2_SPEC("Q2.SNAP.table_bounds");
  auto b = OneEntry();
  auto s = ParseSnapshotTable(b.data(), 67, 1, 0);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ((*s)[0].name, "s1");
  // One byte of the name missing: refused.
  EXPECT_EQ(ParseSnapshotTable(b.data(), 66, 1, 0).error().clause,
            "Q2.SNAP.table_bounds");
  // Only the last entry's padding may be missing: a second entry would start
  // at 72, past a 67-byte table.
  auto two = b;
  two.insert(two.end(), b.begin(), b.end());
  EXPECT_EQ(ParseSnapshotTable(two.data(), 67, 2, 0).error().clause,
            "Q2.SNAP.table_bounds");
  EXPECT_TRUE(ParseSnapshotTable(two.data(), 72 + 67, 2, 0).ok());
  EXPECT_EQ(ParseSnapshotTable(two.data(), 72 + 66, 2, 0).error().clause,
            "Q2.SNAP.table_bounds");
}

}  // namespace
}  // namespace qcow2ref
