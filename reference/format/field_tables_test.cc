// The field tables checked against the layout derived independently: each
// structure's fields follow each other without gaps, in the order the
// specification gives, and end at the sizes it states; every clause a
// table names is in the registry; serializing puts each field where a
// hand-built image has it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reference/format/bitmap_directory.h"
#include "reference/format/bitmap_fields.h"
#include "reference/format/extension_fields.h"
#include "reference/format/extensions.h"
#include "reference/format/field.h"
#include "reference/format/field_table_check.h"
#include "reference/format/header.h"
#include "reference/format/header_fields.h"
#include "reference/format/snapshot_fields.h"
#include "reference/format/snapshot_table.h"
#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::CheckFieldTable;
using testing::ClauseRegistered;
using testing::PutBe;

TEST(FieldTablesTest, RegistryIsReadable) {
  EXPECT_TRUE(ClauseRegistered("Q2.HDR.magic"));
  EXPECT_FALSE(ClauseRegistered("Q2.HDR.no_such_clause"));
}

TEST(FieldTablesTest, HeaderFieldsFollowTheSpecLayout) {
  QCOW2_SPEC("Q2.HDR.v2_length");
  QCOW2_SPEC("Q2.HDRV3.header_length.min");
  QCOW2_SPEC("Q2.HDRV3.padding.zero");
  EXPECT_EQ(CheckFieldTable(kHeaderFields), 105u);
  // Version 2: 13 fields, 72 bytes.
  EXPECT_EQ(kHeaderFields[kHeaderV2FieldCount - 1].end(), 72u);
  EXPECT_EQ(kHeaderFields[kHeaderV2FieldCount - 1].end(), kV2HeaderLength);
  EXPECT_STREQ(kHeaderFields[kHeaderV2FieldCount].name,
               "incompatible_features");
  // Version 3: the mandatory fields end at 104; compression_type is the
  // one byte after, padded to 112.
  EXPECT_EQ(HeaderField::kHeaderLength.end(), 104u);
  EXPECT_EQ(HeaderField::kHeaderLength.end(), kV3MinHeaderLength);
  EXPECT_EQ(HeaderField::kCompressionType.offset, 104u);
  EXPECT_EQ((HeaderField::kCompressionType.end() + 7) / 8 * 8,
            kV3HeaderLengthWithCompression);
  EXPECT_EQ(HeaderField::kIncompatibleFeatures.offset, 72u);
}

TEST(FieldTablesTest, LoadAndStoreAreBigEndian) {
  QCOW2_SPEC("Q2.HDR.big_endian");
  const Field f{"f", 2, 4, "Q2.HDR.big_endian"};
  std::vector<uint8_t> b(8, 0);
  StoreField(b.data(), f, 0x01020304);
  EXPECT_EQ(b, (std::vector<uint8_t>{0, 0, 1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(LoadField(b.data(), f), 0x01020304u);
  const Field g{"g", 1, 3, "Q2.HDR.big_endian"};
  EXPECT_EQ(LoadField(b.data(), g), 0x000102u);
  StoreField(b.data(), g, 0xaabbcc);
  EXPECT_EQ(b, (std::vector<uint8_t>{0, 0xaa, 0xbb, 0xcc, 3, 4, 0, 0}));
}

TEST(FieldTablesTest, HeaderSerializesWhereAHandBuiltOneHasItsFields) {
  QCOW2_SPEC("Q2.HDR.big_endian");
  Header h;
  h.backing_file_offset = 0x0102030405060708;
  h.backing_file_size = 0x11121314;
  h.cluster_bits = 0x15161718;
  h.size = 0x191a1b1c1d1e1f20;
  h.crypt_method = static_cast<CryptMethod>(0x21222324);
  h.l1_size = 0x25262728;
  h.l1_table_offset = 0x292a2b2c2d2e2f30;
  h.refcount_table_offset = 0x3132333435363738;
  h.refcount_table_clusters = 0x393a3b3c;
  h.nb_snapshots = 0x3d3e3f40;
  h.snapshots_offset = 0x4142434445464748;
  h.incompatible_features = 0x494a4b4c4d4e4f50;
  h.compatible_features = 0x5152535455565758;
  h.autoclear_features = 0x595a5b5c5d5e5f60;
  h.refcount_order = 0x61626364;
  h.header_length = 112;
  h.compression_type = 0x65;
  h.trailing = {0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c};
  std::vector<uint8_t> want;
  PutBe(want, 0, 0x514649FB, 4);
  PutBe(want, 4, 3, 4);
  PutBe(want, 8, h.backing_file_offset, 8);
  PutBe(want, 16, h.backing_file_size, 4);
  PutBe(want, 20, h.cluster_bits, 4);
  PutBe(want, 24, h.size, 8);
  PutBe(want, 32, static_cast<uint32_t>(h.crypt_method), 4);
  PutBe(want, 36, h.l1_size, 4);
  PutBe(want, 40, h.l1_table_offset, 8);
  PutBe(want, 48, h.refcount_table_offset, 8);
  PutBe(want, 56, h.refcount_table_clusters, 4);
  PutBe(want, 60, h.nb_snapshots, 4);
  PutBe(want, 64, h.snapshots_offset, 8);
  PutBe(want, 72, h.incompatible_features, 8);
  PutBe(want, 80, h.compatible_features, 8);
  PutBe(want, 88, h.autoclear_features, 8);
  PutBe(want, 96, h.refcount_order, 4);
  PutBe(want, 100, 112, 4);
  PutBe(want, 104, 0x65666768696a6b6c, 8);
  EXPECT_EQ(SerializeHeader(h), want);
  // Each table entry reads back the value the hand-built bytes hold.
  EXPECT_EQ(LoadField(want.data(), HeaderField::kSize), h.size);
  EXPECT_EQ(LoadField(want.data(), HeaderField::kNbSnapshots), h.nb_snapshots);
  EXPECT_EQ(LoadField(want.data(), HeaderField::kCompressionType), 0x65u);
}

TEST(FieldTablesTest, ExtensionFieldsFollowTheSpecLayout) {
  QCOW2_SPEC("Q2.EXT.padding");
  QCOW2_SPEC("Q2.FNT.entry_size");
  QCOW2_SPEC("Q2.BMX.length");
  QCOW2_SPEC("Q2.FDE.length");
  // Type and length, 4 bytes each, before the data.
  EXPECT_EQ(CheckFieldTable(kExtensionFields), 8u);
  EXPECT_EQ(kExtensionDataStart, 8u);
  EXPECT_EQ(CheckFieldTable(kFeatureNameFields), 48u);
  EXPECT_EQ(kFeatureNameEntrySize, 48u);
  EXPECT_EQ(CheckFieldTable(kBitmapsExtensionFields), 24u);
  EXPECT_EQ(kBitmapsExtensionSize, 24u);
  EXPECT_EQ(CheckFieldTable(kFdePointerFields), 16u);
  EXPECT_EQ(kFdePointerSize, 16u);
}

TEST(FieldTablesTest, SnapshotFieldsFollowTheSpecLayout) {
  QCOW2_SPEC("Q2.SNAP.entry_layout");
  QCOW2_SPEC("Q2.SNAP.extra_v3");
  EXPECT_EQ(CheckFieldTable(kSnapshotFields), 40u);
  EXPECT_EQ(kSnapshotFixedSize, 40u);
  // The extra data: 64-bit VM state size, disk size, icount.
  EXPECT_EQ(CheckFieldTable(kSnapshotExtraFields), 24u);
  // Version 3 needs at least the first two (16 bytes).
  EXPECT_EQ(SnapshotExtraField::kDiskSize.end(), 16u);
}

TEST(FieldTablesTest, BitmapFieldsFollowTheSpecLayout) {
  QCOW2_SPEC("Q2.BM.entry_layout");
  EXPECT_EQ(CheckFieldTable(kBitmapFields), 24u);
  EXPECT_EQ(kBitmapFixedSize, 24u);
}

TEST(FieldTablesTest, ExtensionsSerializeWhereHandBuiltOnesHaveTheirFields) {
  QCOW2_SPEC("Q2.BMX.length");
  QCOW2_SPEC("Q2.FDE.length");
  Extensions e;
  e.fde = FdePointer{0x0102030405060708, 0x1112131415161718};
  e.bitmaps =
      BitmapsExtension{0x21222324, 0x2526272829303132, 0x3334353637383940};
  std::vector<uint8_t> want;
  PutBe(want, 0, kExtFullDiskEncryption, 4);
  PutBe(want, 4, 16, 4);
  PutBe(want, 8, e.fde->offset, 8);
  PutBe(want, 16, e.fde->length, 8);
  PutBe(want, 24, kExtBitmaps, 4);
  PutBe(want, 28, 24, 4);
  PutBe(want, 32, e.bitmaps->nb_bitmaps, 4);
  PutBe(want, 36, 0, 4);
  PutBe(want, 40, e.bitmaps->directory_size, 8);
  PutBe(want, 48, e.bitmaps->directory_offset, 8);
  PutBe(want, 56, 0, 8);  // End marker.
  EXPECT_EQ(SerializeExtensions(e), want);
}

TEST(FieldTablesTest, SnapshotSerializesWhereAHandBuiltOneHasItsFields) {
  QCOW2_SPEC("Q2.SNAP.entry_layout");
  Snapshot s;
  s.l1_table_offset = 0x0102030405060708;
  s.l1_size = 0x090a0b0c;
  s.id = "7";
  s.name = "nm";
  s.date_sec = 0x11121314;
  s.date_nsec = 0x15161718;
  s.vm_clock_nsec = 0x191a1b1c1d1e1f20;
  s.vm_state_size = 0x21222324;
  // Extra data: the VM state size again in 64 bits, then a disk size.
  PutBe(s.extra, 0, s.vm_state_size, 8);
  PutBe(s.extra, 8, 0xeeeeeeeeeeeeeeee, 8);
  std::vector<uint8_t> want;
  PutBe(want, 0, s.l1_table_offset, 8);
  PutBe(want, 8, s.l1_size, 4);
  PutBe(want, 12, 1, 2);
  PutBe(want, 14, 2, 2);
  PutBe(want, 16, s.date_sec, 4);
  PutBe(want, 20, s.date_nsec, 4);
  PutBe(want, 24, s.vm_clock_nsec, 8);
  PutBe(want, 32, s.vm_state_size, 4);
  PutBe(want, 36, 16, 4);
  PutBe(want, 40, s.vm_state_size, 8);
  PutBe(want, 48, 0xeeeeeeeeeeeeeeee, 8);
  want.push_back('7');
  want.push_back('n');
  want.push_back('m');
  want.resize(64, 0);  // Padded to 8.
  EXPECT_EQ(SerializeSnapshotTable({s}), want);
  auto back = ParseSnapshotTable(want.data(), want.size(), 1, 0);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(SerializeSnapshotTable(*back), want);
}

}  // namespace
}  // namespace qcow2ref
