// The field tables checked against the layout derived independently: each
// structure's fields follow each other without gaps, in the order the
// specification gives, and end at the sizes it states; every clause a
// table names is in the registry; serializing puts each field where a
// hand-built image has it.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "reference/format/field.h"
#include "reference/format/header.h"
#include "reference/format/header_fields.h"
#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;

// The clause registry as text (the tests' data: //spec:registry).
const std::string& Registry() {
  static const std::string* text = [] {
    auto* s = new std::string;
    for (const char* path :
         {"spec/clauses/qcow2.json", "spec/clauses/luks1.json",
          "spec/clauses/qx.json"}) {
      std::ifstream in(path);
      std::stringstream buf;
      buf << in.rdbuf();
      *s += buf.str();
    }
    return s;
  }();
  return *text;
}

// Fields follow each other from `start` with no gap and no overlap, carry
// distinct names and cite registered clauses; returns where the last ends.
template <size_t N>
uint32_t CheckContiguous(const Field (&fields)[N], uint32_t start = 0) {
  std::set<std::string> names;
  uint32_t at = start;
  for (const Field& f : fields) {
    EXPECT_EQ(f.offset, at) << f.name << " does not start where the field "
                            << "before it ends";
    EXPECT_GT(f.width, 0u) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << f.name << " appears twice";
    EXPECT_NE(Registry().find("\"id\": \"" + std::string(f.clause) + "\""),
              std::string::npos)
        << f.name << " cites " << f.clause << ", not in the registry";
    at = f.end();
  }
  return at;
}

TEST(FieldTablesTest, RegistryIsReadable) {
  EXPECT_NE(Registry().find("\"id\": \"Q2.HDR.magic\""), std::string::npos);
}

TEST(FieldTablesTest, HeaderFieldsFollowTheSpecLayout) {
  QCOW2_SPEC("Q2.HDR.v2_length");
  QCOW2_SPEC("Q2.HDRV3.header_length.min");
  QCOW2_SPEC("Q2.HDRV3.padding.zero");
  EXPECT_EQ(CheckContiguous(kHeaderFields), 105u);
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
  h.crypt_method = 0x21222324;
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
  PutBe(want, 32, h.crypt_method, 4);
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

}  // namespace
}  // namespace qcow2ref
