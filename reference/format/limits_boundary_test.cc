// Every numeric limit of limits.h that a parser in format/ enforces, at the
// limit (accepted) and one past it (refused with the limit's clause). The
// inputs are laid out by hand (test_bytes.h), so a `>` that became `>=` (or
// the reverse) fails here.
#include <gtest/gtest.h>

#include <string>

#include "reference/format/bitmap_directory.h"
#include "reference/format/extensions.h"
#include "reference/format/header.h"
#include "reference/format/limits.h"
#include "reference/format/snapshot_table.h"
#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;
using testing::V3HeaderBytes;

std::string ClauseOf(const std::vector<uint8_t>& b) {
  auto r = ParseHeader(b.data(), b.size());
  return r.ok() ? "ok" : r.error().clause;
}

TEST(LimitsBoundaryTest, ClusterBits) {
  QCOW2_SPEC("QX.LIMIT.cluster_bits_max");
  auto b = V3HeaderBytes();
  // 2 MiB clusters: move the tables to 2 MiB-aligned offsets.
  PutBe(b, 20, kMaxClusterBits, 4);
  PutBe(b, 40, 4u << 20, 8);  // l1_table_offset
  PutBe(b, 48, 2u << 20, 8);  // refcount_table_offset
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 20, kMaxClusterBits + 1, 4);
  EXPECT_EQ(ClauseOf(b), "QX.LIMIT.cluster_bits_max");
}

TEST(LimitsBoundaryTest, BackingFileNameLength) {
  QCOW2_SPEC("Q2.HDR.backing_file_size.max");
  auto b = V3HeaderBytes();
  PutBe(b, 8, 1024, 8);  // backing_file_offset, inside cluster 0
  PutBe(b, 16, kMaxBackingFileNameLength, 4);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 16, kMaxBackingFileNameLength + 1, 4);
  EXPECT_EQ(ClauseOf(b), "Q2.HDR.backing_file_size.max");
}

TEST(LimitsBoundaryTest, VirtualSize) {
  QCOW2_SPEC("QX.LIMIT.virtual_size");
  auto b = V3HeaderBytes();
  // At the limit the size is not refused for itself (no L1 table within its
  // own limit can cover it: that refusal names the L1 clause).
  PutBe(b, 24, kMaxVirtualSize, 8);
  EXPECT_NE(ClauseOf(b), "QX.LIMIT.virtual_size");
  PutBe(b, 24, kMaxVirtualSize + 1, 8);
  EXPECT_EQ(ClauseOf(b), "QX.LIMIT.virtual_size");
}

TEST(LimitsBoundaryTest, L1TableBytes) {
  QCOW2_SPEC("QX.LIMIT.l1_size");
  auto b = V3HeaderBytes();
  const uint64_t entries = kMaxL1TableBytes / 8;
  PutBe(b, 36, entries, 4);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 36, entries + 1, 4);
  EXPECT_EQ(ClauseOf(b), "QX.LIMIT.l1_size");
}

TEST(LimitsBoundaryTest, RefcountTableBytes) {
  QCOW2_SPEC("QX.LIMIT.refcount_table_size");
  auto b = V3HeaderBytes();
  const uint64_t clusters = kMaxRefcountTableBytes / 65536;
  PutBe(b, 56, clusters, 4);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 56, clusters + 1, 4);
  EXPECT_EQ(ClauseOf(b), "QX.LIMIT.refcount_table_size");
}

TEST(LimitsBoundaryTest, SnapshotCount) {
  QCOW2_SPEC("QX.LIMIT.snapshot_count");
  auto b = V3HeaderBytes();
  PutBe(b, 64, 0x40000, 8);  // snapshots_offset
  PutBe(b, 60, kMaxSnapshots, 4);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 60, kMaxSnapshots + 1, 4);
  EXPECT_EQ(ClauseOf(b), "QX.LIMIT.snapshot_count");
}

// A snapshot entry with `extra` bytes of extra data, id "1", name "s".
std::vector<uint8_t> SnapshotEntry(uint32_t extra) {
  std::vector<uint8_t> e(40 + extra + 2, 0);
  PutBe(e, 0, 0x70000, 8);  // l1_table_offset
  PutBe(e, 8, 1, 4);        // l1_size
  PutBe(e, 12, 1, 2);       // id_str_size
  PutBe(e, 14, 1, 2);       // name_size
  PutBe(e, 36, extra, 4);   // extra_data_size
  e[40 + extra] = '1';
  e[41 + extra] = 's';
  e.resize((e.size() + 7) / 8 * 8, 0);
  return e;
}

TEST(LimitsBoundaryTest, SnapshotExtraData) {
  QCOW2_SPEC("QX.LIMIT.snapshot_table_size");
  auto at = SnapshotEntry(kMaxSnapshotExtraData);
  EXPECT_TRUE(ParseSnapshotTable(at.data(), at.size(), 1, 0).ok());
  auto past = SnapshotEntry(kMaxSnapshotExtraData + 1);
  EXPECT_EQ(ParseSnapshotTable(past.data(), past.size(), 1, 0).error().clause,
            "QX.LIMIT.snapshot_table_size");
}

TEST(LimitsBoundaryTest, SnapshotTableBytes) {
  QCOW2_SPEC("QX.LIMIT.snapshot_table_size");
  // Entries of 1064 bytes (40 + 1016 extra + id + name, padded) and one
  // last entry sized so the table ends exactly at the limit; one byte more
  // of name crosses it.
  const uint64_t entry = 1064;
  const uint64_t whole = kMaxSnapshotTableBytes / entry - 1;
  const uint64_t rest = kMaxSnapshotTableBytes - whole * entry;  // > 1064
  std::vector<uint8_t> t(kMaxSnapshotTableBytes + 64, 0);
  for (uint64_t i = 0; i < whole; ++i) {
    auto e = SnapshotEntry(1016);
    ASSERT_EQ(e.size(), entry);
    std::copy(e.begin(), e.end(), t.begin() + i * entry);
  }
  auto last = [&](uint64_t bytes) {
    // 40 + extra + 1 (id) + name = bytes, a multiple of 8.
    const uint64_t name = bytes - 40 - kMaxSnapshotExtraData - 1;
    uint8_t* e = t.data() + whole * entry;
    std::fill(e, e + bytes + 8, 0);
    std::vector<uint8_t> h(40, 0);
    PutBe(h, 0, 0x70000, 8);
    PutBe(h, 8, 1, 4);
    PutBe(h, 12, 1, 2);
    PutBe(h, 14, name, 2);
    PutBe(h, 36, kMaxSnapshotExtraData, 4);
    std::copy(h.begin(), h.end(), e);
  };
  const uint32_t count = static_cast<uint32_t>(whole + 1);
  last(rest);
  EXPECT_TRUE(ParseSnapshotTable(t.data(), t.size(), count, 0).ok());
  last(rest + 8);
  EXPECT_EQ(ParseSnapshotTable(t.data(), t.size(), count, 0).error().clause,
            "QX.LIMIT.snapshot_table_size");
}

// A bitmap directory entry for a 1 MiB disk with 64 KiB clusters.
std::vector<uint8_t> BitmapEntryBytes(const std::string& name,
                                      uint32_t table_size = 1) {
  std::vector<uint8_t> e(24 + name.size(), 0);
  PutBe(e, 0, 0x50000, 8);
  PutBe(e, 8, table_size, 4);
  e[16] = 1;   // type: dirty tracking
  e[17] = 16;  // granularity_bits
  PutBe(e, 18, name.size(), 2);
  std::copy(name.begin(), name.end(), e.begin() + 24);
  e.resize((e.size() + 7) / 8 * 8, 0);
  return e;
}

Result<std::vector<BitmapEntry>> ParseOne(const std::vector<uint8_t>& dir,
                                          uint64_t disk_size = 1 << 20) {
  Header h;
  h.size = disk_size;
  h.cluster_bits = 16;
  return ParseBitmapDirectory(h, dir.data(), dir.size(), 1, 0x40000);
}

TEST(LimitsBoundaryTest, BitmapNameAndTable) {
  QCOW2_SPEC("Q2.BM.name_size");
  QCOW2_SPEC("QX.LIMIT.bitmap_count");
  EXPECT_TRUE(
      ParseOne(BitmapEntryBytes(std::string(kMaxBitmapNameSize, 'n'))).ok());
  EXPECT_EQ(ParseOne(BitmapEntryBytes(std::string(kMaxBitmapNameSize + 1, 'n')))
                .error()
                .clause,
            "Q2.BM.name_size");
  // At the cap, the table must still fit the disk exactly (Q2.BM.table_size):
  // 2^27 entries of 64 KiB clusters at 64 KiB granularity cover 2^27 * 2^19
  // bits * 2^16 bytes = 2^62 bytes.
  EXPECT_TRUE(
      ParseOne(BitmapEntryBytes("b", kMaxBitmapTableEntries), uint64_t{1} << 62)
          .ok());
  EXPECT_EQ(ParseOne(BitmapEntryBytes("b", kMaxBitmapTableEntries + 1))
                .error()
                .clause,
            "QX.LIMIT.bitmap_count");
}

// A header with a bitmaps extension naming `nb` bitmaps in `dir_size` bytes.
Result<Extensions> WithBitmapsExtension(uint32_t nb, uint64_t dir_size) {
  auto b = V3HeaderBytes();
  PutBe(b, 72, 0, 8);
  PutBe(b, 88, 1, 8);  // autoclear bit 0: bitmaps
  PutBe(b, 112, 0x23852875, 4);
  PutBe(b, 116, 24, 4);
  PutBe(b, 120, nb, 4);
  PutBe(b, 128, dir_size, 8);
  PutBe(b, 136, 0x40000, 8);
  auto h = ParseHeader(b.data(), b.size());
  EXPECT_TRUE(h.ok());
  return ParseExtensions(*h, b.data(), b.size());
}

TEST(LimitsBoundaryTest, BitmapCountAndDirectorySize) {
  QCOW2_SPEC("Q2.BMX.nb_bitmaps");
  QCOW2_SPEC("Q2.BMX.directory_size.max");
  EXPECT_TRUE(WithBitmapsExtension(kMaxBitmaps, 4096).ok());
  // The spec's own bound (1..65535) names the extension's clause.
  EXPECT_EQ(WithBitmapsExtension(kMaxBitmaps + 1, 4096).error().clause,
            "Q2.BMX.nb_bitmaps");
  EXPECT_TRUE(WithBitmapsExtension(1, kMaxBitmapDirectoryBytes).ok());
  EXPECT_EQ(
      WithBitmapsExtension(1, kMaxBitmapDirectoryBytes + 1).error().clause,
      "Q2.BMX.directory_size.max");
}

}  // namespace
}  // namespace qcow2ref
