#include "reference/format/cluster_entries.h"

#include <gtest/gtest.h>

#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

Header V3(uint32_t cluster_bits, bool extended = false) {
  Header h;
  h.cluster_bits = cluster_bits;
  if (extended) h.incompatible_features |= kIncompatExtendedL2;
  return h;
}

TEST(GeometryTest, IndexesFromGuestOffset) {
  QCOW2_SPEC("Q2.MAP.l1_index");
  Geometry g = Geometry::FromHeader(V3(16));
  EXPECT_EQ(g.l2_entries, 8192u);  // 65536 / 8
  // Guest offset 512 MiB + 3 clusters: L1 index 1, L2 index 3.
  const uint64_t off = (512ull << 20) + 3 * 65536 + 100;
  EXPECT_EQ(g.l1_index(off), 1u);
  EXPECT_EQ(g.l2_index(off), 3u);
  Geometry x = Geometry::FromHeader(V3(16, true));
  QCOW2_SPEC("Q2.XL2.entry");
  EXPECT_EQ(x.l2_entries, 4096u);  // 65536 / 16
  EXPECT_EQ(x.subcluster_size, 2048u);
}

TEST(L2EntryTest, StandardKinds) {
  QCOW2_SPEC("Q2.MAP.zero_flag");
  QCOW2_SPEC("Q2.MAP.offset0_is_unallocated");
  Header h = V3(16);
  Geometry g = Geometry::FromHeader(h);
  auto d = DecodeL2Entry(g, h, 0x8000000000050000ull, 0, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ClusterKind::kNormal);
  EXPECT_EQ(d->host_offset, 0x50000u);
  EXPECT_TRUE(d->copied);
  EXPECT_EQ(DecodeL2Entry(g, h, 0, 0, 0)->kind, ClusterKind::kUnallocated);
  EXPECT_EQ(DecodeL2Entry(g, h, 1, 0, 0)->kind, ClusterKind::kZero);
  EXPECT_EQ(DecodeL2Entry(g, h, 0x50001, 0, 0)->kind, ClusterKind::kZero);
  // Offset 0 with COPIED is allocated only with an external data file.
  EXPECT_EQ(DecodeL2Entry(g, h, 1ull << 63, 0, 0)->kind,
            ClusterKind::kUnallocated);
  Header x = h;
  x.incompatible_features |= kIncompatDataFile;
  EXPECT_EQ(DecodeL2Entry(g, x, 1ull << 63, 0, 0)->kind, ClusterKind::kNormal);
}

TEST(L2EntryTest, ReservedBitsAreIgnoredButRecorded) {
  QCOW2_SPEC("Q2.MAP.l2_entry.reserved");
  Header h = V3(16);
  Geometry g = Geometry::FromHeader(h);
  auto d = DecodeL2Entry(g, h, 0x0100000000050002ull, 0, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ClusterKind::kNormal);
  EXPECT_EQ(d->host_offset, 0x50000u);
  EXPECT_EQ(d->reserved_bits, 0x0100000000000002ull);
}

TEST(L2EntryTest, Rejections) {
  QCOW2_SPEC("Q2.MAP.l2_entry.aligned");
  QCOW2_SPEC("Q2.MAP.zero_flag_v2");
  QCOW2_SPEC("Q2.CMP.not_with_xdf");
  Header h = V3(16);
  Geometry g = Geometry::FromHeader(h);
  EXPECT_EQ(DecodeL2Entry(g, h, 0x50200, 0, 0).error().clause,
            "Q2.MAP.l2_entry.aligned");
  Header v2 = h;
  v2.version = 2;
  EXPECT_EQ(DecodeL2Entry(g, v2, 0x50001, 0, 0).error().clause,
            "Q2.MAP.zero_flag_v2");
  Header x = h;
  x.incompatible_features |= kIncompatDataFile;
  EXPECT_EQ(DecodeL2Entry(g, x, 1ull << 62, 0, 0).error().clause,
            "Q2.CMP.not_with_xdf");
}

TEST(L2EntryTest, CompressedDescriptor) {
  QCOW2_SPEC("Q2.CMP.descriptor");
  QCOW2_SPEC("Q2.CMP.sector_count_history");
  Header h = V3(16);
  Geometry g = Geometry::FromHeader(h);
  // cluster_bits 16: x = 62 - 8 = 54. Offset 0x12345 (0x145 into its
  // sector), 2 additional sectors -> 3 sectors from 0x12200, so
  // 3 * 512 - 0x145 = 1211 bytes.
  const uint64_t entry = (1ull << 62) | (2ull << 54) | 0x12345;
  auto d = DecodeL2Entry(g, h, entry, 0, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ClusterKind::kCompressed);
  EXPECT_EQ(d->compressed_offset, 0x12345u);
  EXPECT_EQ(d->compressed_bytes, 1211u);
  // cluster_bits 9: x = 61, one sector-count bit (bit 61).
  CompressedLayout c9 = CompressedLayoutFor(9);
  EXPECT_EQ(c9.offset_bits, 61u);
  EXPECT_EQ(c9.sectors_mask, 1u);
  // Offset bits 56..60 (cluster_bits 9) must be zero but QEMU does not
  // check them: they stay part of the offset, so such an entry points past
  // any real file instead of being silently masked.
  QCOW2_SPEC("Q2.CMP.offset_high_bits");
  Header h9 = V3(9);
  auto hi = DecodeL2Entry(Geometry::FromHeader(h9), h9,
                          (1ull << 62) | (1ull << 57) | 0x200, 0, 0);
  ASSERT_TRUE(hi.ok());
  EXPECT_EQ(hi->compressed_offset, (1ull << 57) | 0x200);
  CompressedLayout c21 = CompressedLayoutFor(21);
  EXPECT_EQ(c21.offset_bits, 49u);
  EXPECT_EQ(c21.sectors_mask, 8191u);
}

TEST(L2EntryTest, ExtendedSubclusters) {
  QCOW2_SPEC("Q2.XL2.subcluster_states");
  QCOW2_SPEC("Q2.XL2.alloc_and_zero");
  QCOW2_SPEC("Q2.XL2.unallocated_no_alloc");
  QCOW2_SPEC("Q2.XL2.compressed_bitmap");
  Header h = V3(16, true);
  Geometry g = Geometry::FromHeader(h);
  // Subcluster 0 allocated, subcluster 1 zero, subcluster 2 neither.
  const uint64_t bitmap = 1ull | (1ull << 33);
  auto d = DecodeL2Entry(g, h, 0x8000000000050000ull, bitmap, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*SubclusterKind(*d, 0, 0), ClusterKind::kNormal);
  EXPECT_EQ(*SubclusterKind(*d, 1, 0), ClusterKind::kZero);
  EXPECT_EQ(*SubclusterKind(*d, 2, 0), ClusterKind::kUnallocated);
  EXPECT_EQ(DecodeL2Entry(g, h, 0x50000, 1ull | (1ull << 32), 0).error().clause,
            "Q2.XL2.alloc_and_zero");
  EXPECT_EQ(DecodeL2Entry(g, h, 0, 4, 0).error().clause,
            "Q2.XL2.unallocated_no_alloc");
  // Zero bits without a host cluster are fine.
  auto z = DecodeL2Entry(g, h, 0, 1ull << 40, 0);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(*SubclusterKind(*z, 8, 0), ClusterKind::kZero);
  // A compressed entry's bitmap is ignored, even an invalid one.
  auto c = DecodeL2Entry(g, h, (1ull << 62) | 0x60000, ~0ull, 0);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ClusterKind::kCompressed);
}

}  // namespace
}  // namespace qcow2ref
