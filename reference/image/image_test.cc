// Image-level behaviour on hand-built images (cluster size 512, so every
// structure is a few bytes at a computed offset).
#include "reference/image/image.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "reference/format/test_bytes.h"
#include "reference/image/guest_map.h"
#include "reference/image/references.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;

constexpr uint64_t kC = 512;  // cluster size

// Layout: cluster 0 header, 1 refcount table, 2 L1 (1 entry), 3 L2 table,
// 4.. data. Virtual size 8 clusters (one L2 table maps 64 clusters).
std::vector<uint8_t> BaseImage(uint32_t version = 3) {
  std::vector<uint8_t> b(4 * kC, 0);
  PutBe(b, 0, 0x514649FB, 4);
  PutBe(b, 4, version, 4);
  PutBe(b, 20, 9, 4);       // cluster_bits
  PutBe(b, 24, 8 * kC, 8);  // size
  PutBe(b, 36, 1, 4);       // l1_size
  PutBe(b, 40, 2 * kC, 8);  // l1_table_offset
  PutBe(b, 48, 1 * kC, 8);  // refcount_table_offset
  PutBe(b, 56, 1, 4);       // refcount_table_clusters
  if (version == 3) {
    PutBe(b, 96, 4, 4);
    PutBe(b, 100, 104, 4);
  }
  PutBe(b, 2 * kC, 0x8000000000000000ull | 3 * kC, 8);  // L1[0] -> L2
  return b;
}

void SetL2(std::vector<uint8_t>& b, int index, uint64_t entry) {
  PutBe(b, 3 * kC + 8 * index, entry, 8);
}

// Appends a data cluster filled with `fill`; returns its offset.
uint64_t AddData(std::vector<uint8_t>& b, uint8_t fill) {
  b.resize((b.size() + kC - 1) / kC * kC, 0);
  const uint64_t off = b.size();
  b.resize(off + kC, fill);
  return off;
}

std::unique_ptr<Image> OpenBytes(std::vector<uint8_t> b,
                                 OpenOptions o = OpenOptions()) {
  auto img = Image::OpenSource(std::make_unique<MemorySource>(std::move(b)), o);
  EXPECT_TRUE(img.ok()) << img.error().ToString();
  return img.ok() ? std::move(img).value() : nullptr;
}

Result<std::vector<uint8_t>> ReadAll(const Image& img) {
  std::vector<uint8_t> out(img.guest_size());
  QCOW2REF_RETURN_IF_ERROR(img.Read(0, out.data(), out.size()));
  return out;
}

std::string ErrorClause(std::vector<uint8_t> b) {
  auto img = Image::OpenSource(std::make_unique<MemorySource>(std::move(b)),
                               OpenOptions());
  if (!img.ok()) return img.error().clause;
  auto data = ReadAll(**img);
  return data.ok() ? "ok" : data.error().clause;
}

TEST(ImageTest, ReadsEveryClusterKind) {
  QCOW2_SPEC("Q2.MAP.unallocated");
  QCOW2_SPEC("Q2.MAP.zero_flag");
  QCOW2_SPEC("Q2.MAP.l1_beyond_size");
  auto b = BaseImage();
  SetL2(b, 0, 0x8000000000000000ull | AddData(b, 0xaa));
  SetL2(b, 1, 1);  // zero, no host cluster
  // Cluster 2: compressed, made directly with zlib (raw deflate).
  std::vector<uint8_t> plain(kC, 0x5c);
  plain[7] = 1;
  std::vector<uint8_t> packed(1024);
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = plain.data();
  zs.avail_in = plain.size();
  zs.next_out = packed.data();
  zs.avail_out = packed.size();
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  packed.resize(packed.size() - zs.avail_out);
  deflateEnd(&zs);
  const uint64_t coff = b.size() + 100;  // Deliberately not sector aligned.
  b.resize(coff, 0);
  b.insert(b.end(), packed.begin(), packed.end());
  // cluster_bits 9: x = 62 - 1 = 61; additional sectors = last - first.
  const uint64_t extra = (coff + packed.size() - 1) / 512 - coff / 512;
  SetL2(b, 2, (1ull << 62) | (extra << 61) | coff);
  // Cluster 3: allocated with reserved bit 1 set: read as if masked.
  SetL2(b, 3, 0x8000000000000002ull | AddData(b, 0x33));
  auto img = OpenBytes(b);
  ASSERT_NE(img, nullptr);
  auto data = ReadAll(*img);
  ASSERT_TRUE(data.ok()) << data.error().ToString();
  for (uint64_t i = 0; i < 8 * kC; ++i) {
    uint8_t want = 0;
    if (i < kC)
      want = 0xaa;
    else if (i >= 2 * kC && i < 3 * kC)
      want = plain[i - 2 * kC];
    else if (i >= 3 * kC && i < 4 * kC)
      want = 0x33;
    ASSERT_EQ((*data)[i], want) << "byte " << i;
  }
  auto map = MapGuest(*img);
  ASSERT_TRUE(map.ok());
  ASSERT_GE(map->size(), 4u);
  EXPECT_TRUE((*map)[0].data);
  EXPECT_TRUE((*map)[1].zero && (*map)[1].present);
  EXPECT_TRUE((*map)[2].compressed);
}

TEST(ImageTest, TablesAndClustersPastTheEnd) {
  QCOW2_SPEC("QX.MAP.beyond_eof");
  QCOW2_SPEC("Q2.MAP.l2_table_in_file");
  QCOW2_SPEC("Q2.MAP.host_in_file");
  auto b = BaseImage();
  SetL2(b, 0, 1ull << 20);  // 1 MiB: past the end of a 2.5 KiB file.
  EXPECT_EQ(ErrorClause(b), "QX.MAP.beyond_eof");
  b = BaseImage();
  PutBe(b, 2 * kC, 1ull << 20, 8);  // L1[0] -> L2 past the end.
  EXPECT_EQ(ErrorClause(b), "Q2.MAP.l2_table_in_file");
  b = BaseImage();
  PutBe(b, 40, 1ull << 20, 8);  // L1 table past the end.
  EXPECT_EQ(ErrorClause(b), "QX.MAP.beyond_eof");
  // A data cluster that starts inside the file but ends past it reads the
  // missing bytes as zero (QEMU does the same).
  b = BaseImage();
  SetL2(b, 0, b.size());
  b.resize(b.size() + 100, 0x77);
  auto img = OpenBytes(b);
  auto data = ReadAll(*img);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ((*data)[99], 0x77);
  EXPECT_EQ((*data)[100], 0);
}

TEST(ImageTest, FeatureBitsThatDoNotBlockReading) {
  QCOW2_SPEC("Q2.HDRV3.incompat.dirty");
  QCOW2_SPEC("Q2.HDRV3.incompat.corrupt");
  QCOW2_SPEC("Q2.HDRV3.compat.unknown_ignore");
  QCOW2_SPEC("Q2.HDRV3.autoclear.unknown_ignore");
  QCOW2_SPEC("Q2.HDRV3.autoclear.bitmaps_without_ext");
  auto b = BaseImage();
  PutBe(b, 72, 0x3, 8);                    // dirty + corrupt
  PutBe(b, 80, 0xfffffffffffffffeull, 8);  // unknown compatible bits
  // Unknown autoclear bits, and the bitmaps bit without its extension.
  PutBe(b, 88, 0xfffffffffffffffdull, 8);
  SetL2(b, 0, AddData(b, 0x11));
  EXPECT_EQ(ErrorClause(b), "ok");
}

TEST(ImageTest, ExternalDataFileRules) {
  QCOW2_SPEC("Q2.XDF.host_equals_guest");
  QCOW2_SPEC("Q2.XDF.name_required");
  auto b = BaseImage();
  PutBe(b, 72, kIncompatDataFile, 8);
  // Guest cluster 1 stored at host offset 2 * 512: must equal 1 * 512.
  SetL2(b, 1, 0x8000000000000000ull | 2 * kC);
  EXPECT_EQ(ErrorClause(b), "Q2.XDF.host_equals_guest");
  SetL2(b, 1, 0x8000000000000000ull | 1 * kC);
  EXPECT_EQ(ErrorClause(b), "Q2.XDF.name_required");
}

TEST(ImageTest, SnapshotSelection) {
  QCOW2_SPEC("Q2.SNAP.l1_aligned");
  QCOW2_SPEC("Q2.SNAP.disk_size");
  auto b = BaseImage();
  SetL2(b, 0, AddData(b, 0x01));
  // Snapshot L1 (1 entry) -> snapshot L2 -> data 0x02.
  const uint64_t l2 = b.size();
  b.resize(l2 + kC, 0);
  PutBe(b, l2, AddData(b, 0x02), 8);
  const uint64_t l1 = b.size();
  b.resize(l1 + kC, 0);
  PutBe(b, l1, l2, 8);
  // Snapshot table at its own cluster: one entry, extra 16 (disk_size).
  const uint64_t t = b.size();
  b.resize(t + kC, 0);
  PutBe(b, t, l1, 8);
  PutBe(b, t + 8, 1, 4);
  PutBe(b, t + 12, 1, 2);
  PutBe(b, t + 14, 4, 2);
  PutBe(b, t + 36, 16, 4);
  PutBe(b, t + 48, 4 * kC, 8);  // disk_size: 4 clusters
  std::memcpy(&b[t + 56], "1snap", 5);
  PutBe(b, 60, 1, 4);
  PutBe(b, 64, t, 8);
  auto img = OpenBytes(b);
  ASSERT_NE(img, nullptr);
  ASSERT_EQ(img->snapshots().size(), 1u);
  EXPECT_EQ(img->snapshots()[0].name, "snap");
  ASSERT_TRUE(img->SelectSnapshot("snap").ok());
  EXPECT_EQ(img->guest_size(), 4 * kC);
  auto data = ReadAll(*img);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ((*data)[0], 0x02);
  EXPECT_FALSE(img->SelectSnapshot("nope").ok());
  // The same snapshot with an unaligned L1 offset.
  PutBe(b, t, l1 + 8, 8);
  img = OpenBytes(b);
  ASSERT_NE(img, nullptr);
  EXPECT_EQ(img->SelectSnapshot("1").error().clause, "Q2.SNAP.l1_aligned");
}

// A key that is one snapshot's id and another's name selects by name.
TEST(ImageTest, SnapshotNameWinsOverId) {
  QCOW2_SPEC("Q2.SNAP.disk_size");
  auto b = BaseImage();
  const uint64_t l2 = b.size();
  b.resize(l2 + kC, 0);
  PutBe(b, l2, AddData(b, 0x02), 8);
  const uint64_t l1 = b.size();
  b.resize(l1 + kC, 0);
  PutBe(b, l1, l2, 8);
  // Two entries of 64 bytes (40 + 16 extra + id + name, padded to 8):
  // id "1" name "snap" (4 clusters), id "2" name "1" (2 clusters).
  const uint64_t t = b.size();
  b.resize(t + kC, 0);
  const struct {
    const char* id;
    const char* name;
    uint64_t disk_size;
  } entries[] = {{"1", "snap", 4 * kC}, {"2", "1", 2 * kC}};
  for (int i = 0; i < 2; ++i) {
    const uint64_t e = t + 64 * i;
    PutBe(b, e, l1, 8);
    PutBe(b, e + 8, 1, 4);
    PutBe(b, e + 12, 1, 2);
    PutBe(b, e + 14, std::strlen(entries[i].name), 2);
    PutBe(b, e + 36, 16, 4);
    PutBe(b, e + 48, entries[i].disk_size, 8);
    std::memcpy(&b[e + 56], entries[i].id, 1);
    std::memcpy(&b[e + 57], entries[i].name, std::strlen(entries[i].name));
  }
  PutBe(b, 60, 2, 4);
  PutBe(b, 64, t, 8);
  auto img = OpenBytes(b);
  ASSERT_NE(img, nullptr);
  ASSERT_EQ(img->snapshots().size(), 2u);
  ASSERT_TRUE(img->SelectSnapshot("1").ok());
  EXPECT_EQ(img->guest_size(), 2 * kC);  // The one named "1".
  img = OpenBytes(b);
  ASSERT_TRUE(img->SelectSnapshot("snap").ok());
  EXPECT_EQ(img->guest_size(), 4 * kC);
}

TEST(ImageTest, MapEntriesAreBounded) {
  QCOW2_SPEC("QX.LIMIT.map_entries");
  // Alternating data and zero clusters: 8 map entries for 8 clusters.
  auto b = BaseImage();
  for (int i = 0; i < 8; i += 2) SetL2(b, i, AddData(b, 0x10 + i));
  for (int i = 1; i < 8; i += 2) SetL2(b, i, 1);
  auto img = OpenBytes(b);
  ASSERT_NE(img, nullptr);
  auto all = MapGuest(*img);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 8u);
  auto capped = MapGuest(*img, 4);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.error().clause, "QX.LIMIT.map_entries");
  // At the limit accepted, one over refused; the visitor saw the first 7.
  EXPECT_TRUE(MapGuest(*img, 8).ok());
  uint64_t seen = 0;
  Status over = ForEachMapEntry(
      *img, 0, img->guest_size(),
      [&seen](const MapEntry&) {
        ++seen;
        return OkStatus();
      },
      7);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().clause, "QX.LIMIT.map_entries");
  EXPECT_EQ(seen, 7u);
}

TEST(ReferencesTest, ContainedRelativePaths) {
  QCOW2_SPEC("QX.BK.path_policy");
  EXPECT_TRUE(IsContainedRelativePath("base.qcow2"));
  EXPECT_TRUE(IsContainedRelativePath("sub/base.qcow2"));
  EXPECT_TRUE(IsContainedRelativePath("sub/../base.qcow2"));
  EXPECT_TRUE(IsContainedRelativePath("./base.qcow2"));
  EXPECT_FALSE(IsContainedRelativePath("/etc/passwd"));
  EXPECT_FALSE(IsContainedRelativePath("../base.qcow2"));
  EXPECT_FALSE(IsContainedRelativePath("sub/../../base.qcow2"));
  EXPECT_FALSE(IsContainedRelativePath(""));
}

// Writes `bytes` to TEST_TMPDIR/name.
std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& b) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), b.size());
  return path;
}

// An image with no data whose backing file is `backing` (format qcow2).
std::vector<uint8_t> WithBacking(const std::string& backing) {
  auto b = BaseImage();
  SetL2(b, 0, 0);
  PutBe(b, 8, 200, 8);
  PutBe(b, 16, backing.size(), 4);
  std::memcpy(&b[200], backing.data(), backing.size());
  return b;
}

TEST(ImageTest, BackingChainDepthIsLimited) {
  QCOW2_SPEC("QX.LIMIT.backing_depth");
  QCOW2_SPEC("Q2.BK.name");
  QCOW2_SPEC("Q2.BK.format");
  // base (data 0x42) <- d1 <- ... <- dN.
  auto base = BaseImage();
  SetL2(base, 0, AddData(base, 0x42));
  WriteTemp("chain0.qcow2", base);
  std::string top;
  for (int i = 1; i <= 16; ++i) {
    top = WriteTemp("chain" + std::to_string(i) + ".qcow2",
                    WithBacking("chain" + std::to_string(i - 1) + ".qcow2"));
  }
  OpenOptions o;
  o.follow_references = true;
  // 16 images deep (chain1 .. chain16 on top of chain0 = 17): refused.
  auto deep = Image::Open(top, o);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().clause, "QX.LIMIT.backing_depth");
  // 15 backing files below the top (chain15): accepted, reads through.
  auto ok = Image::Open(
      std::string(std::getenv("TEST_TMPDIR")) + "/chain15.qcow2", o);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  auto data = ReadAll(**ok);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ((*data)[0], 0x42);
  EXPECT_EQ((*data)[kC], 0);
}

// QX.LIMIT.open_memory at its boundary: every image of the chain holds a
// 32 MiB L1 table (4 Mi entries, the L1 limit; read past the end of the
// file as zeros), the only metadata charged here. Eight images are exactly
// 256 MiB (accepted); a ninth is one table over (refused).
TEST(ImageTest, ChainMetadataIsBoundedPerOpen) {
  QCOW2_SPEC("QX.LIMIT.open_memory");
  auto big_l1 = [](std::vector<uint8_t> b) {
    PutBe(b, 36, 4u << 20, 4);  // l1_size: 32 MiB of entries.
    return b;
  };
  WriteTemp("mem0.qcow2", big_l1(BaseImage()));
  for (int i = 1; i <= 8; ++i) {
    WriteTemp("mem" + std::to_string(i) + ".qcow2",
              big_l1(WithBacking("mem" + std::to_string(i - 1) + ".qcow2")));
  }
  OpenOptions o;
  o.follow_references = true;
  const std::string dir = std::getenv("TEST_TMPDIR");
  auto eight = Image::Open(dir + "/mem7.qcow2", o);
  ASSERT_TRUE(eight.ok()) << eight.error().ToString();
  auto nine = Image::Open(dir + "/mem8.qcow2", o);
  ASSERT_FALSE(nine.ok());
  EXPECT_EQ(nine.error().clause, "QX.LIMIT.open_memory");
}

TEST(ImageTest, BackingNotOpenedWithoutFollowing) {
  QCOW2_SPEC("QX.BK.no_follow");
  const std::string path =
      WriteTemp("lonely.qcow2", WithBacking("absent.qcow2"));
  auto img = Image::Open(path, OpenOptions());
  ASSERT_TRUE(img.ok()) << img.error().ToString();
  EXPECT_FALSE((*img)->backing_opened());
  EXPECT_EQ(*(*img)->backing_name(), "absent.qcow2");
  auto data = ReadAll(**img);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().clause, "QX.BK.no_follow");
}

// Without a backing format extension the backing file's first 4 bytes
// decide: a 4-byte file holding the qcow2 magic is probed as qcow2 (and
// then refused as a truncated header), not read as raw.
TEST(ImageTest, BackingFormatProbeReadsAFourByteFile) {
  QCOW2_SPEC("Q2.BK.format");
  WriteTemp("magic4.bin", {0x51, 0x46, 0x49, 0xFB});
  OpenOptions o;
  o.follow_references = true;
  auto img =
      Image::Open(WriteTemp("over_magic4.qcow2", WithBacking("magic4.bin")), o);
  EXPECT_FALSE(img.ok());
  WriteTemp("raw4.bin", {0x51, 0x46, 0x49, 0x00});
  auto raw =
      Image::Open(WriteTemp("over_raw4.qcow2", WithBacking("raw4.bin")), o);
  ASSERT_TRUE(raw.ok()) << raw.error().ToString();
  auto data = ReadAll(**raw);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ((*data)[0], 0x51);
  EXPECT_EQ((*data)[4], 0);
}

TEST(ImageTest, RawBackingShorterThanOverlay) {
  QCOW2_SPEC("Q2.BK.past_end_zero");
  WriteTemp("short.raw", std::vector<uint8_t>(700, 0x99));
  auto b = WithBacking("short.raw");
  // Backing format extension "raw" right after the 104-byte header.
  PutBe(b, 104, 0xE2792ACA, 4);
  PutBe(b, 108, 3, 4);
  std::memcpy(&b[112], "raw", 3);
  OpenOptions o;
  o.follow_references = true;
  auto img = Image::Open(WriteTemp("over_raw.qcow2", b), o);
  ASSERT_TRUE(img.ok()) << img.error().ToString();
  auto data = ReadAll(**img);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ((*data)[699], 0x99);
  EXPECT_EQ((*data)[700], 0);
  // The map tiles the disk with non-empty entries: the backing file's bytes
  // at depth 1, then zeros of the top layer from its end on.
  auto map = MapGuest(**img);
  ASSERT_TRUE(map.ok()) << map.error().ToString();
  uint64_t pos = 0;
  for (const MapEntry& m : *map) {
    EXPECT_GT(m.length, 0u) << "empty map entry at " << m.start;
    EXPECT_EQ(m.start, pos);
    if (m.start <= 699 && 699 < m.start + m.length) {
      EXPECT_EQ(m.depth, 1);
    }
    if (m.start <= 700 && 700 < m.start + m.length) {
      EXPECT_EQ(m.depth, 0);
      EXPECT_TRUE(m.zero);
    }
    pos = m.start + m.length;
  }
  EXPECT_EQ(pos, (*img)->guest_size());
  // A raw backing file longer than the overlay covers all of it: one entry.
  WriteTemp("long.raw", std::vector<uint8_t>(1 << 20, 0x99));
  PutBe(b, 16, 8, 4);
  std::memcpy(&b[200], "long.raw", 8);
  auto over_long = Image::Open(WriteTemp("over_long.qcow2", b), o);
  ASSERT_TRUE(over_long.ok()) << over_long.error().ToString();
  auto whole = MapGuest(**over_long);
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ(whole->size(), 1u);
  EXPECT_EQ((*whole)[0].length, (*over_long)->guest_size());
  EXPECT_EQ((*whole)[0].depth, 1);
}

}  // namespace
}  // namespace qcow2ref
