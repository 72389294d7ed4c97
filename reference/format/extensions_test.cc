#include "reference/format/extensions.h"

#include <gtest/gtest.h>

#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;
using testing::V3HeaderBytes;

// Appends an extension by hand at `at`: type, length, data padded to 8.
size_t PutExt(std::vector<uint8_t>& b, size_t at, uint32_t type,
              const std::vector<uint8_t>& data) {
  PutBe(b, at, type, 4);
  PutBe(b, at + 4, data.size(), 4);
  for (size_t i = 0; i < data.size(); ++i) b[at + 8 + i] = data[i];
  return at + 8 + ((data.size() + 7) / 8) * 8;
}

Result<Extensions> Parse(std::vector<uint8_t>& b) {
  auto h = ParseHeader(b.data(), b.size());
  EXPECT_TRUE(h.ok());
  return ParseExtensions(*h, b.data(), b.size());
}

std::vector<uint8_t> Str(const std::string& s) { return {s.begin(), s.end()}; }

TEST(ExtensionsTest, ParsesKnownAndUnknown) {
  QCOW2_SPEC("Q2.EXT.start");
  QCOW2_SPEC("Q2.EXT.padding");
  QCOW2_SPEC("Q2.EXT.unknown_skip");
  QCOW2_SPEC("Q2.EXT.end_marker");
  auto b = V3HeaderBytes();
  size_t at = PutExt(b, 112, 0xE2792ACA, Str("qcow2"));  // 5 bytes -> pad 8
  EXPECT_EQ(at, 128u);
  at = PutExt(b, at, 0x12345678, {1, 2, 3});
  std::vector<uint8_t> fnt(48, 0);
  fnt[0] = 0;
  fnt[1] = 0;
  std::string n = "dirty bit";
  std::copy(n.begin(), n.end(), fnt.begin() + 2);
  at = PutExt(b, at, 0x6803F857, fnt);
  PutExt(b, at, 0, {});
  // Bytes after the end marker are not extensions.
  PutExt(b, at + 8, 0xE2792ACA, Str("raw"));
  auto e = Parse(b);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(*e->backing_format, "qcow2");
  ASSERT_EQ(e->unknown.size(), 1u);
  EXPECT_EQ(e->unknown[0].type, 0x12345678u);
  EXPECT_EQ(e->unknown[0].data.size(), 3u);
  EXPECT_EQ(FeatureNameFor(*e, 0, 0), "dirty bit");
  EXPECT_EQ(e->end_offset, at + 8);
}

TEST(ExtensionsTest, OverrunIsRejected) {
  QCOW2_SPEC("Q2.EXT.bounds");
  auto b = V3HeaderBytes();
  PutBe(b, 112, 0x12345678, 4);
  PutBe(b, 116, 65536, 4);
  auto e = Parse(b);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().clause, "Q2.EXT.bounds");
  EXPECT_EQ(*e.error().offset, 112u);
}

TEST(ExtensionsTest, AreaEndsAtBackingName) {
  QCOW2_SPEC("Q2.EXT.bounds");
  auto b = V3HeaderBytes();
  PutBe(b, 8, 136, 8);  // backing name at 136
  PutBe(b, 16, 4, 4);
  PutExt(b, 112, 0x12345678, std::vector<uint8_t>(24, 0));  // ends at 144
  auto e = Parse(b);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().clause, "Q2.EXT.bounds");
}

TEST(ExtensionsTest, DuplicateKnownTypeIsRejected) {
  QCOW2_SPEC("Q2.EXT.at_most_once");
  auto b = V3HeaderBytes();
  size_t at = PutExt(b, 112, 0xE2792ACA, Str("raw"));
  PutExt(b, at, 0xE2792ACA, Str("qcow2"));
  auto e = Parse(b);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().clause, "Q2.EXT.at_most_once");
}

struct ExtCase {
  const char* name;
  uint32_t crypt_method;
  uint32_t type;
  std::vector<uint8_t> data;
  const char* clause;
};

class ExtRejectTest : public ::testing::TestWithParam<ExtCase> {};

TEST_P(ExtRejectTest, Rejects) {
  const ExtCase& c = GetParam();
  QCOW2_SPEC(c.clause);
  auto b = V3HeaderBytes();
  PutBe(b, 32, c.crypt_method, 4);
  PutExt(b, 112, c.type, c.data);
  auto e = Parse(b);
  ASSERT_FALSE(e.ok()) << c.name;
  EXPECT_EQ(e.error().clause, c.clause);
}

std::vector<uint8_t> Bitmaps(uint32_t nb, uint32_t reserved, uint64_t size,
                             uint64_t off) {
  std::vector<uint8_t> d;
  PutBe(d, 0, nb, 4);
  PutBe(d, 4, reserved, 4);
  PutBe(d, 8, size, 8);
  PutBe(d, 16, off, 8);
  return d;
}

std::vector<uint8_t> Fde(uint64_t off, uint64_t len) {
  std::vector<uint8_t> d;
  PutBe(d, 0, off, 8);
  PutBe(d, 8, len, 8);
  return d;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ExtRejectTest,
    ::testing::Values(
        ExtCase{"fnt_len", 0, 0x6803F857, std::vector<uint8_t>(47, 0),
                "Q2.FNT.entry_size"},
        ExtCase{"bmx_len", 0, 0x23852875, std::vector<uint8_t>(16, 0),
                "Q2.BMX.length"},
        ExtCase{"bmx_reserved", 0, 0x23852875, Bitmaps(1, 1, 24, 0x50000),
                "Q2.BMX.reserved_zero"},
        ExtCase{"bmx_zero", 0, 0x23852875, Bitmaps(0, 0, 24, 0x50000),
                "Q2.BMX.nb_bitmaps"},
        ExtCase{"bmx_many", 0, 0x23852875, Bitmaps(65536, 0, 24, 0x50000),
                "Q2.BMX.nb_bitmaps"},
        ExtCase{"bmx_dir_big", 0, 0x23852875,
                Bitmaps(1, 0, 1024ull * 65535 + 1, 0x50000),
                "Q2.BMX.directory_size.max"},
        ExtCase{"bmx_unaligned", 0, 0x23852875, Bitmaps(1, 0, 24, 0x50008),
                "Q2.BMX.directory_offset.aligned"},
        ExtCase{"fde_no_luks", 0, 0x0537BE77, Fde(0x40000, 4096),
                "Q2.FDE.only_luks"},
        ExtCase{"fde_aes", 1, 0x0537BE77, Fde(0x40000, 4096),
                "Q2.FDE.only_luks"},
        ExtCase{"fde_len", 2, 0x0537BE77, std::vector<uint8_t>(8, 0),
                "Q2.FDE.length"},
        ExtCase{"fde_unaligned", 2, 0x0537BE77, Fde(0x40200, 4096),
                "Q2.FDE.offset.aligned"}),
    [](const ::testing::TestParamInfo<ExtCase>& i) {
      return std::string(i.param.name);
    });

TEST(ExtensionsTest, SerializeThenParse) {
  Extensions e;
  e.backing_format = "raw";
  e.data_file = "disk.data";
  e.unknown.push_back({0xabcdef01u, {9, 8, 7}});
  auto bytes = SerializeExtensions(e);
  auto b = V3HeaderBytes();
  std::copy(bytes.begin(), bytes.end(), b.begin() + 112);
  auto back = Parse(b);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back->backing_format, "raw");
  EXPECT_EQ(*back->data_file, "disk.data");
  ASSERT_EQ(back->unknown.size(), 1u);
  EXPECT_EQ(back->unknown[0].data, (std::vector<uint8_t>{9, 8, 7}));
}

}  // namespace
}  // namespace qcow2ref
