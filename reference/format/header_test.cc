#include "reference/format/header.h"

#include <gtest/gtest.h>

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

TEST(HeaderTest, ParsesHandBuiltV3Header) {
  QCOW2_SPEC("Q2.HDR.big_endian");
  QCOW2_SPEC("Q2.HDR.magic");
  auto b = V3HeaderBytes();
  auto h = ParseHeader(b.data(), b.size());
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->cluster_size(), 65536u);
  EXPECT_EQ(h->size, 1u << 20);
  EXPECT_EQ(h->l1_table_offset, 0x30000u);
  EXPECT_EQ(h->refcount_bits(), 16u);
  EXPECT_EQ(h->header_length, 112u);
  EXPECT_EQ(h->compression_type, 0);
}

TEST(HeaderTest, V2HeaderTakesDefaults) {
  QCOW2_SPEC("Q2.HDR.v2_length");
  auto b = V3HeaderBytes();
  PutBe(b, 4, 2, 4);
  // Bytes 72.. are not header fields in v2: garbage there must not matter.
  PutBe(b, 72, 0xffffffffffffffffull, 8);
  PutBe(b, 96, 9, 4);
  auto h = ParseHeader(b.data(), b.size());
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->header_length, 72u);
  EXPECT_EQ(h->refcount_order, 4u);
  EXPECT_EQ(h->incompatible_features, 0u);
}

TEST(HeaderTest, HeaderLength104MeansNoCompressionType) {
  QCOW2_SPEC("Q2.HDRV3.additional_fields.zero_is_absent");
  auto b = V3HeaderBytes();
  PutBe(b, 100, 104, 4);
  b[104] = 1;  // Not a header field when header_length is 104.
  auto h = ParseHeader(b.data(), b.size());
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->compression_type, 0);
}

struct FieldCase {
  const char* name;
  size_t offset;
  uint64_t value;
  int bytes;
  const char* clause;
};

class HeaderRejectTest : public ::testing::TestWithParam<FieldCase> {};

TEST_P(HeaderRejectTest, RejectsWithClause) {
  const FieldCase& c = GetParam();
  QCOW2_SPEC(c.clause);
  auto b = V3HeaderBytes();
  PutBe(b, c.offset, c.value, c.bytes);
  EXPECT_EQ(ClauseOf(b), c.clause) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, HeaderRejectTest,
    ::testing::Values(
        FieldCase{"magic", 0, 0x514649FA, 4, "Q2.HDR.magic"},
        FieldCase{"version1", 4, 1, 4, "Q2.HDR.version"},
        FieldCase{"version4", 4, 4, 4, "Q2.HDR.version"},
        FieldCase{"cluster_bits8", 20, 8, 4, "Q2.HDR.cluster_bits.min"},
        FieldCase{"cluster_bits22", 20, 22, 4, "QX.LIMIT.cluster_bits_max"},
        FieldCase{"cluster_bits64", 20, 64, 4, "QX.LIMIT.cluster_bits_max"},
        FieldCase{"crypt3", 32, 3, 4, "Q2.HDR.crypt_method.known"},
        // 1 MiB needs 1 L2 table: l1_size 0 is too small.
        FieldCase{"l1_small", 36, 0, 4, "Q2.HDR.l1_size.covers_size"},
        // 32 MiB / 8 = 4194304 entries is the limit.
        FieldCase{"l1_huge", 36, 4194305, 4, "QX.LIMIT.l1_size"},
        FieldCase{"l1_unaligned", 40, 0x30200, 8,
                  "Q2.HDR.l1_table_offset.aligned"},
        FieldCase{"rt_unaligned", 48, 0x10008, 8,
                  "Q2.HDR.refcount_table_offset.aligned"},
        FieldCase{"rt_zero", 56, 0, 4,
                  "Q2.HDR.refcount_table_clusters.nonzero"},
        // 129 clusters of 64 KiB > 8 MiB.
        FieldCase{"rt_huge", 56, 129, 4, "QX.LIMIT.refcount_table_size"},
        FieldCase{"snap_unaligned", 64, 0x40001, 8,
                  "Q2.HDR.snapshots_offset.aligned"},
        FieldCase{"snap_count", 60, 65537, 4, "QX.LIMIT.snapshot_count"},
        FieldCase{"incompat5", 72, 1 << 5, 8, "Q2.HDRV3.incompat.unknown_fail"},
        FieldCase{"incompat63", 72, 1ull << 63, 8,
                  "Q2.HDRV3.incompat.unknown_fail"},
        FieldCase{"refcount_order7", 96, 7, 4, "Q2.HDRV3.refcount_order.max"},
        FieldCase{"hlen100", 100, 100, 4, "Q2.HDRV3.header_length.min"},
        FieldCase{"hlen108", 100, 108, 4,
                  "Q2.HDRV3.header_length.multiple_of_8"},
        FieldCase{"hlen_big", 100, 65544, 4,
                  "Q2.HDRV3.header_length.in_cluster"},
        FieldCase{"ctype2_bit", 72, 1 << 3, 8,
                  "Q2.HDRV3.compression_type.bit_iff_nonzero"},
        FieldCase{"raw_bit_without_xdf", 88, 2, 8,
                  "Q2.HDRV3.autoclear.raw_requires_xdf"},
        FieldCase{"size_huge", 24, 1ull << 63, 8, "QX.LIMIT.virtual_size"},
        FieldCase{"backing_past_cluster", 8, 70000, 8,
                  "Q2.HDR.backing_file_offset.in_cluster0"}),
    [](const ::testing::TestParamInfo<FieldCase>& i) {
      return std::string(i.param.name);
    });

TEST(HeaderTest, CompressionTypeRules) {
  QCOW2_SPEC("Q2.HDRV3.compression_type.known");
  QCOW2_SPEC("Q2.HDRV3.compression_type.bit_iff_nonzero");
  auto b = V3HeaderBytes();
  b[104] = 1;  // zstd without incompatible bit 3.
  EXPECT_EQ(ClauseOf(b), "Q2.HDRV3.compression_type.bit_iff_nonzero");
  PutBe(b, 72, 1 << 3, 8);
  EXPECT_EQ(ClauseOf(b), "ok");
  b[104] = 2;
  EXPECT_EQ(ClauseOf(b), "Q2.HDRV3.compression_type.known");
}

TEST(HeaderTest, BackingNameLength) {
  QCOW2_SPEC("Q2.HDR.backing_file_size.max");
  auto b = V3HeaderBytes();
  PutBe(b, 8, 512, 8);
  PutBe(b, 16, 1023, 4);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 16, 1024, 4);
  EXPECT_EQ(ClauseOf(b), "Q2.HDR.backing_file_size.max");
  // The name may not overlap the header itself.
  PutBe(b, 8, 64, 8);
  PutBe(b, 16, 8, 4);
  EXPECT_EQ(ClauseOf(b), "Q2.HDR.backing_file_offset.in_cluster0");
}

TEST(HeaderTest, ExtendedL2NeedsSixteenKiBClusters) {
  QCOW2_SPEC("Q2.XL2.cluster_bits");
  auto b = V3HeaderBytes();
  PutBe(b, 72, 1 << 4, 8);
  PutBe(b, 20, 14, 4);
  PutBe(b, 36, 64, 4);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 20, 13, 4);
  EXPECT_EQ(ClauseOf(b), "Q2.XL2.cluster_bits");
}

TEST(HeaderTest, L1CoverageUsesEntryWidth) {
  QCOW2_SPEC("Q2.HDR.l1_size.covers_size");
  // 64 KiB clusters: one L2 table maps 8192 * 64 KiB = 512 MiB (standard)
  // or 4096 * 64 KiB = 256 MiB (extended entries are 16 bytes).
  auto b = V3HeaderBytes();
  PutBe(b, 24, 512ull << 20, 8);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 24, (512ull << 20) + 512, 8);
  EXPECT_EQ(ClauseOf(b), "Q2.HDR.l1_size.covers_size");
  PutBe(b, 24, 256ull << 20, 8);
  PutBe(b, 72, 1 << 4, 8);
  EXPECT_EQ(ClauseOf(b), "ok");
  PutBe(b, 24, (256ull << 20) + 512, 8);
  EXPECT_EQ(ClauseOf(b), "Q2.HDR.l1_size.covers_size");
}

TEST(HeaderTest, SerializeRoundTrip) {
  auto b = V3HeaderBytes();
  b[105] = 0;
  auto h = ParseHeader(b.data(), b.size());
  ASSERT_TRUE(h.ok());
  auto out = SerializeHeader(*h);
  ASSERT_EQ(out.size(), 112u);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), b.begin()));
}

TEST(HeaderTest, GuestSizeTruncatesToSectors) {
  QCOW2_SPEC("Q2.HDR.size.sector_multiple");
  Header h;
  h.size = 1000;  // QEMU exposes 1 sector (512 bytes).
  EXPECT_EQ(GuestSize(h), 512u);
}

TEST(HeaderTest, ShortInputIsRejected) {
  auto b = V3HeaderBytes();
  EXPECT_FALSE(ParseHeader(b.data(), 3).ok());
  EXPECT_FALSE(ParseHeader(b.data(), 60).ok());
  EXPECT_FALSE(ParseHeader(b.data(), 100).ok());
}

}  // namespace
}  // namespace qcow2ref
