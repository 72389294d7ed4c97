// The writer on in-memory stores: layout, refusals, compression, refcount
// table growth, determinism. Every image written is then read back by the
// reader and judged by the checker (both independent of the writer's
// bookkeeping).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "reference/check/checker.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/header.h"
#include "reference/format/limits.h"
#include "reference/format/snapshot_table.h"
#include "reference/io/crash_store.h"
#include "reference/status/endian.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/luks_create.h"
#include "reference/writer/luks_keys.h"
#include "reference/writer/random_source.h"

namespace qcow2ref {
namespace {

struct Made {
  std::unique_ptr<ImageWriter> writer;
  MemoryStore* store;
};

Made Make(const CreateOptions& o, const SecretBytes* secret = nullptr) {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* raw = store.get();
  WriterOptions wo;
  wo.secret = secret;
  auto w = ImageWriter::Create(std::move(store), o, std::move(wo));
  EXPECT_TRUE(w.ok()) << w.error().ToString();
  return {w.ok() ? std::move(w).value() : nullptr, raw};
}

void ExpectClean(const std::vector<uint8_t>& bytes,
                 const SecretBytes* secret = nullptr) {
  CheckOptions co;
  co.secret = secret;
  auto r = CheckImage(std::make_unique<MemorySource>(bytes), co);
  ASSERT_TRUE(r.ok());
  for (const Finding& f : r->report.findings) {
    ADD_FAILURE() << f.clause << ": " << f.message;
  }
  EXPECT_TRUE(r->report.clean());
}

std::vector<uint8_t> ReadBack(const std::vector<uint8_t>& bytes,
                              const SecretBytes* secret = nullptr) {
  OpenOptions o;
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), o, secret);
  EXPECT_TRUE(img.ok()) << img.error().ToString();
  std::vector<uint8_t> out((*img)->guest_size());
  EXPECT_TRUE((*img)->Read(0, out.data(), out.size()).ok());
  return out;
}

TEST(WriterTest, RefusesBadOptionsBeforeWriting) {
  QCOW2_SPEC("QX.WRITE.validate_first");
  CreateOptions o;
  EXPECT_EQ(ValidateCreateOptions(o).error().clause, "QX.WRITE.validate_first");
  o.size = 1 << 20;
  EXPECT_TRUE(ValidateCreateOptions(o).ok());
  CreateOptions v2 = o;
  v2.version = 2;
  v2.extended_l2 = true;
  EXPECT_EQ(ValidateCreateOptions(v2).error().clause, "Q2.HDR.v2_length");
  CreateOptions xl2 = o;
  xl2.extended_l2 = true;
  xl2.cluster_bits = 13;
  EXPECT_EQ(ValidateCreateOptions(xl2).error().clause, "Q2.XL2.cluster_bits");
  // Cluster sizes 512 B .. 2 MiB (cluster_bits 9..21): both ends accepted,
  // one past either refused; compression types 0 (zlib) and 1 (zstd) only.
  for (uint32_t bits : {9u, 21u}) {
    CreateOptions c = o;
    c.cluster_bits = bits;
    EXPECT_TRUE(ValidateCreateOptions(c).ok()) << bits;
  }
  for (uint32_t bits : {8u, 22u}) {
    CreateOptions c = o;
    c.cluster_bits = bits;
    EXPECT_FALSE(ValidateCreateOptions(c).ok()) << bits;
  }
  CreateOptions zstd = o;
  zstd.compression_type = 1;
  EXPECT_TRUE(ValidateCreateOptions(zstd).ok());
  zstd.compression_type = 2;
  EXPECT_FALSE(ValidateCreateOptions(zstd).ok());
  CreateOptions rc = o;
  rc.refcount_order = 7;
  EXPECT_FALSE(ValidateCreateOptions(rc).ok());
  CreateOptions raw = o;
  raw.data_file_raw = true;
  EXPECT_FALSE(ValidateCreateOptions(raw).ok());
  CreateOptions luks = o;
  luks.encryption = Encryption::kLuks;
  luks.luks_cipher = "blowfish-128-cbc-plain";
  EXPECT_FALSE(ValidateCreateOptions(luks).ok());
  // Nothing was written for a refused create.
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  EXPECT_FALSE(ImageWriter::Create(std::move(store), v2, WriterOptions()).ok());
  (void)s;
}

// QX.LIMIT.l1_size at its boundary: with 512-byte clusters one L2 table
// maps 64 * 512 = 32 KiB, so 128 GiB needs 4 Mi L1 entries = exactly 32 MiB
// (accepted); one cluster more needs 32 MiB + 8 bytes (refused).
TEST(WriterTest, L1LimitAtAndOverTheBoundary) {
  QCOW2_SPEC("QX.LIMIT.l1_size");
  CreateOptions o;
  o.cluster_bits = 9;
  o.size = 128ull << 30;
  Made at = Make(o);
  ASSERT_NE(at.writer, nullptr);
  auto h = ParseHeader(at.store->bytes().data(), at.store->bytes().size());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->l1_size, 4u << 20);
  o.size += 512;
  auto over =
      ImageWriter::Create(std::make_unique<MemoryStore>(), o, WriterOptions());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().clause, "QX.LIMIT.l1_size");
}

// Runs of clusters longer than one refcount block covers: long writes
// (512-byte clusters, 16-bit refcounts: 256 clusters per block), and a
// snapshot L1 copy whose new block lands outside its own range.
TEST(WriterTest, RefcountBlockOutsideItsOwnRangeIsCounted) {
  QCOW2_SPEC("Q2.RC.covers_references");
  CreateOptions o;
  o.cluster_bits = 9;
  o.size = 4 << 20;
  for (uint64_t length : {uint64_t{300} << 10, uint64_t{1} << 20}) {
    SCOPED_TRACE(length);
    Made m = Make(o);
    ASSERT_NE(m.writer, nullptr);
    std::vector<uint8_t> data(length);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = static_cast<uint8_t>(i * 13 + 1);
    ASSERT_TRUE(m.writer->Write(512, data.data(), data.size()).ok());
    ASSERT_TRUE(m.writer->Flush().ok());
    ExpectClean(m.store->bytes());
    const std::vector<uint8_t> back = ReadBack(m.store->bytes());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin() + 512));
  }
  // 64-bit refcounts (64 clusters per block) and a 100-cluster L1 table: a
  // snapshot's L1 copy is one run longer than a block's range.
  o.refcount_order = 6;
  o.size = 200 << 20;
  Made m = Make(o);
  ASSERT_NE(m.writer, nullptr);
  const std::vector<uint8_t> data(4096, 0x77);
  ASSERT_TRUE(m.writer->Write(0, data.data(), data.size()).ok());
  ASSERT_TRUE(m.writer->SnapshotCreate("s").ok());
  ASSERT_TRUE(m.writer->Flush().ok());
  ExpectClean(m.store->bytes());
}

// A bitmap's granularity is stored as its log2: 512 B -> 9, 64 KiB -> 16,
// and the default for 64 KiB clusters is 64 KiB (qemu-img's choice).
TEST(WriterTest, BitmapGranularityBits) {
  QCOW2_SPEC("Q2.BM.granularity");
  CreateOptions o;
  o.size = 8 << 20;
  Made m = Make(o);
  ASSERT_NE(m.writer, nullptr);
  ASSERT_TRUE(m.writer->BitmapAdd("fine", 512, false).ok());
  ASSERT_TRUE(m.writer->BitmapAdd("coarse", 65536, true).ok());
  ASSERT_TRUE(m.writer->BitmapAdd("default", 0, true).ok());
  ASSERT_TRUE(m.writer->Flush().ok());
  auto img = Image::OpenSource(std::make_unique<MemorySource>(m.store->bytes()),
                               OpenOptions());
  ASSERT_TRUE(img.ok()) << img.error().ToString();
  std::map<std::string, int> bits;
  for (const BitmapEntry& e : (*img)->bitmaps())
    bits[e.name] = e.granularity_bits;
  EXPECT_EQ(bits, (std::map<std::string, int>{
                      {"fine", 9}, {"coarse", 16}, {"default", 16}}));
}

TEST(WriterTest, HeaderIsWrittenLast) {
  QCOW2_SPEC("QX.WRITE.order_header_last");
  CreateOptions o;
  o.size = 1 << 20;
  auto store = std::make_unique<CrashStore>(std::vector<uint8_t>());
  CrashStore* log = store.get();
  auto w = ImageWriter::Create(std::move(store), o, WriterOptions());
  ASSERT_TRUE(w.ok());
  const auto& ev = log->events();
  size_t header = ev.size();
  for (size_t i = 0; i < ev.size(); ++i) {
    if (!ev[i].flush && ev[i].offset == 0) header = i;
  }
  ASSERT_LT(header, ev.size());
  ASSERT_GT(header, 0u);
  EXPECT_TRUE(ev[header - 1].flush);  // Everything before it is durable.
  for (size_t i = header + 1; i < ev.size(); ++i) {
    EXPECT_TRUE(ev[i].flush) << "a write after the header at event " << i;
  }
  // A cut before the header write leaves no image that opens.
  auto before = log->Replay(header);
  EXPECT_FALSE(
      Image::OpenSource(std::make_unique<MemorySource>(before), OpenOptions())
          .ok());
}

TEST(WriterTest, CompressedWhenItShrinks) {
  QCOW2_SPEC("Q2.CMP.descriptor");
  CreateOptions o;
  o.size = 1 << 20;
  Made m = Make(o);
  std::vector<uint8_t> text(65536, 'a');
  std::vector<uint8_t> noise(65536);
  uint32_t x = 7;
  for (auto& b : noise)
    b = static_cast<uint8_t>((x = x * 1664525 + 1013904223) >> 24);
  ASSERT_TRUE(m.writer->WriteCompressed(0, text.data(), text.size()).ok());
  ASSERT_TRUE(
      m.writer->WriteCompressed(65536, noise.data(), noise.size()).ok());
  ASSERT_TRUE(m.writer->Flush().ok());
  const auto& bytes = m.store->bytes();
  ExpectClean(bytes);
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  ASSERT_TRUE(img.ok());
  auto e = (*img)->MapLayer(0, 2 * 65536);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].kind, ClusterKind::kCompressed);
  EXPECT_EQ((*e)[1].kind, ClusterKind::kNormal);
  auto back = ReadBack(bytes);
  EXPECT_TRUE(std::equal(text.begin(), text.end(), back.begin()));
  EXPECT_TRUE(std::equal(noise.begin(), noise.end(), back.begin() + 65536));
}

// Text-like bytes that deflate to roughly half their size.
std::vector<uint8_t> HalfCompressible(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed;
  for (auto& b : out) {
    x = x * 1664525 + 1013904223;
    b = static_cast<uint8_t>('a' + (x >> 24) % 23);
  }
  return out;
}

TEST(WriterTest, PacksCompressedClustersDensely) {
  QCOW2_SPEC("QX.WRITE.compressed_dense");
  QCOW2_SPEC("Q2.RC.covers_references");
  for (int refcount_order : {4, 0}) {
    SCOPED_TRACE(refcount_order);
    CreateOptions o;
    o.size = 1 << 20;
    o.cluster_bits = 12;
    o.refcount_order = refcount_order;
    Made m = Make(o);
    const uint64_t cs = 4096;
    auto data = HalfCompressible(16 * cs, 11);
    ASSERT_TRUE(m.writer->WriteCompressed(0, data.data(), data.size()).ok());
    // Overwrite a few packed clusters: their shares are given back.
    auto again = HalfCompressible(3 * cs, 12);
    ASSERT_TRUE(
        m.writer->WriteCompressed(5 * cs, again.data(), again.size()).ok());
    ASSERT_TRUE(m.writer->Flush().ok());
    const auto& bytes = m.store->bytes();
    ExpectClean(bytes);  // Refcounts recomputed independently.
    std::copy(again.begin(), again.end(), data.begin() + 5 * cs);
    auto back = ReadBack(bytes);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin()));
    auto img =
        Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
    ASSERT_TRUE(img.ok());
    auto e = (*img)->MapLayer(0, 16 * cs);
    ASSERT_TRUE(e.ok());
    std::set<uint64_t> hosts;
    int crossing = 0, shared_start = 0;
    for (const Extent& x : *e) {
      ASSERT_EQ(x.kind, ClusterKind::kCompressed);
      const uint64_t first = x.compressed_offset / cs;
      const uint64_t last = (x.compressed_offset + x.compressed_bytes - 1) / cs;
      if (last != first) ++crossing;
      if (x.compressed_offset % cs != 0) ++shared_start;
      for (uint64_t c = first; c <= last; ++c) hosts.insert(c);
    }
    if (refcount_order == 0) {
      // 1-bit refcounts: a host cluster holds one reference at most.
      EXPECT_EQ(shared_start, 0);
      EXPECT_EQ(crossing, 0);
    } else {
      // 19 compressed clusters of ~half a cluster each in about 10 host
      // clusters, some of them continuing into the next host cluster.
      EXPECT_GT(shared_start, 8);
      EXPECT_GT(crossing, 0);
      EXPECT_LE(hosts.size(), 12u);
    }
  }
}

TEST(WriterTest, RefusesCompressionInEncryptedImages) {
  QCOW2_SPEC("QX.WRITE.no_compressed_encryption");
  CreateOptions o;
  o.size = 1 << 20;
  o.encryption = Encryption::kAes;
  SecretBytes pw = SecretFromString("pw");
  Made m = Make(o, &pw);
  std::vector<uint8_t> text(65536, 'a');
  auto st = m.writer->WriteCompressed(0, text.data(), text.size());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().clause, "QX.WRITE.no_compressed_encryption");
}

TEST(WriterTest, RefcountTableGrows) {
  CreateOptions o;
  o.size = 3 << 20;
  o.cluster_bits = 9;
  o.refcount_order = 6;
  Made m = Make(o);
  std::vector<uint8_t> data(5 << 19, 0x3c);
  ASSERT_TRUE(m.writer->Write(0, data.data(), data.size()).ok());
  ASSERT_TRUE(m.writer->Flush().ok());
  // One table cluster (64 entries x 64 clusters) covers 2 MiB: it moved.
  EXPECT_GT(LoadBe32(m.store->bytes().data() + 56), 1u);
  ExpectClean(m.store->bytes());
  auto back = ReadBack(m.store->bytes());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin()));
}

TEST(WriterTest, DeterministicSeedReproducesLuksImage) {
  QCOW2_SPEC("QX.WRITE.deterministic_seed");
  CreateOptions o;
  o.size = 1 << 20;
  o.encryption = Encryption::kLuks;
  o.luks_cipher = "aes-128-xts-plain64";
  o.luks_iterations = 1000;
  o.deterministic_seed = std::vector<uint8_t>{1, 2, 3};
  SecretBytes pw = SecretFromString("seeded");
  Made a = Make(o, &pw);
  Made b = Make(o, &pw);
  EXPECT_EQ(a.store->bytes(), b.store->bytes());
  o.deterministic_seed = std::vector<uint8_t>{1, 2, 4};
  Made c = Make(o, &pw);
  EXPECT_NE(a.store->bytes(), c.store->bytes());
  ExpectClean(a.store->bytes(), &pw);
}

// Explicit PBKDF2 iteration counts are written as given (nothing is
// measured); an unknown hash is refused by the LUKS area builder itself;
// key slots 0..7 exist: 7 is accepted, 8 and -1 are refused unwritten.
TEST(WriterTest, LuksIterationsHashAndSlotRange) {
  QCOW2_SPEC("L1.PHDR.hash_spec");
  CreateOptions o;
  o.size = 1 << 20;
  o.encryption = Encryption::kLuks;
  o.luks_cipher = "aes-128-xts-plain64";
  o.luks_iterations = 1000;
  const SecretBytes pw = SecretFromString("first");
  Made m = Make(o, &pw);
  ASSERT_NE(m.writer, nullptr);
  OpenOptions oo;
  auto img = Image::OpenSource(std::make_unique<MemorySource>(m.store->bytes()),
                               oo, &pw);
  ASSERT_TRUE(img.ok()) << img.error().ToString();
  ASSERT_TRUE((*img)->luks().has_value());
  EXPECT_EQ((*img)->luks()->slots[0].iterations, 1000u);
  EXPECT_EQ((*img)->luks()->mk_digest_iter, 1000u);

  LuksCreateOptions lo;
  auto suite = ParseCipherSpec("aes-128-xts-plain64");
  ASSERT_TRUE(suite.ok());
  lo.suite = *suite;
  lo.hash = "nohash";
  lo.slot_iterations = lo.digest_iterations = 1000;
  auto unknown = CreateLuksArea(lo, pw, DeterministicRandom({1}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::kUsage);
  EXPECT_NE(unknown.error().message.find("unknown LUKS hash 'nohash'"),
            std::string::npos)
      << unknown.error().message;

  // A slot count left at 0 is derived from a measured PBKDF2 rate over
  // iter_time_ms (50 ms: far above the 1000-iteration floor on any machine
  // doing 20000 SHA-256 PBKDF2 iterations a second); a given one is kept.
  lo.hash = "sha256";
  lo.slot_iterations = 0;
  lo.digest_iterations = 1000;
  lo.iter_time_ms = 50;
  auto derived = CreateLuksArea(lo, pw, DeterministicRandom({2}));
  ASSERT_TRUE(derived.ok()) << derived.error().message;
  EXPECT_GT(derived->header.slots[0].iterations, 1000u);
  EXPECT_EQ(derived->header.mk_digest_iter, 1000u);

  const SecretBytes added = SecretFromString("second");
  KeySlotOptions ko;
  ko.iterations = 1000;
  for (int bad : {8, -1}) {
    MemoryStore store(m.store->bytes());
    ko.slot = bad;
    EXPECT_FALSE(LuksAddKey(&store, pw, added, ko).ok()) << "slot " << bad;
    EXPECT_EQ(store.bytes(), m.store->bytes()) << "slot " << bad;
  }
  {
    // Slot 0 exists (it holds the first passphrase): refused as in use, not
    // as out of range.
    MemoryStore store(m.store->bytes());
    ko.slot = 0;
    auto zero = LuksAddKey(&store, pw, added, ko);
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.error().message.rfind("key slot 0 ", 0), 0u)
        << zero.error().message;
  }
  MemoryStore store(m.store->bytes());
  ko.slot = 7;
  auto slot = LuksAddKey(&store, pw, added, ko);
  ASSERT_TRUE(slot.ok()) << slot.error().ToString();
  EXPECT_EQ(*slot, 7);
}

TEST(WriterTest, DirtyImagesAreRebuiltCorruptOnesNotWritten) {
  QCOW2_SPEC("QX.WRITE.dirty_refused");
  QCOW2_SPEC("Q2.HDRV3.incompat.corrupt");
  CreateOptions o;
  o.size = 1 << 20;
  Made m = Make(o);
  std::vector<uint8_t> data(70000, 0x5a);
  ASSERT_TRUE(m.writer->Write(1000, data.data(), data.size()).ok());
  ASSERT_TRUE(m.writer->Flush().ok());
  // Corrupt: refused, nothing written.
  std::vector<uint8_t> corrupt = m.store->bytes();
  StoreBe64(corrupt.data() + 72, kIncompatCorrupt);
  auto store = std::make_unique<MemoryStore>(corrupt);
  MemoryStore* raw = store.get();
  EXPECT_FALSE(ImageWriter::Open(std::move(store), WriterOptions()).ok());
  // Dirty with stale refcounts (the data clusters' counts lost, as lazy
  // refcounts leave them): rebuilt first, then written; the checker is
  // clean afterwards.
  std::vector<uint8_t> dirty = m.store->bytes();
  StoreBe64(dirty.data() + 72, kIncompatDirty);
  auto h = ParseHeader(dirty.data(), dirty.size());
  ASSERT_TRUE(h.ok());
  const uint64_t block = LoadBe64(dirty.data() + h->refcount_table_offset);
  for (uint64_t c = 4; c < dirty.size() / 65536; ++c) {
    StoreBe16(dirty.data() + block + 2 * c, 0);
  }
  auto ds = std::make_unique<MemoryStore>(dirty);
  MemoryStore* draw = ds.get();
  auto w = ImageWriter::Open(std::move(ds), WriterOptions());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  ASSERT_TRUE((*w)->Write(200000, data.data(), 1000).ok());
  ASSERT_TRUE((*w)->Flush().ok());
  ExpectClean(draw->bytes());
  EXPECT_EQ(LoadBe64(draw->bytes().data() + 72) & kIncompatDirty, 0u);
  (void)raw;
}

TEST(WriterTest, ZeroAndDiscardReadAsZeros) {
  QCOW2_SPEC("QX.WRITE.discard");
  for (uint32_t version : {2u, 3u}) {
    CreateOptions o;
    o.size = 1 << 20;
    o.version = version;
    Made m = Make(o);
    std::vector<uint8_t> data(4 * 65536, 0x77);
    ASSERT_TRUE(m.writer->Write(0, data.data(), data.size()).ok());
    ASSERT_TRUE(m.writer->WriteZeroes(65536, 65536).ok());
    ASSERT_TRUE(m.writer->Discard(2 * 65536 + 100, 65536).ok());
    ASSERT_TRUE(m.writer->Flush().ok());
    ExpectClean(m.store->bytes());
    auto back = ReadBack(m.store->bytes());
    for (uint64_t i = 0; i < 4 * 65536; ++i) {
      const bool zero = (i >= 65536 && i < 2 * 65536) ||
                        (i >= 2 * 65536 + 100 && i < 3 * 65536 + 100);
      ASSERT_EQ(back[i], zero ? 0 : 0x77) << "v" << version << " byte " << i;
    }
  }
}

// QX.LIMIT.snapshot_count at its boundary for the writer: an image with
// 65535 snapshots takes one more (65536, the limit itself) and refuses the
// next. The 65535 entries (no L1 table, 24 bytes of extra data each) are
// placed at the end of a fresh image with their clusters counted.
TEST(WriterTest, SnapshotCountAtAndOverTheBoundary) {
  QCOW2_SPEC("QX.LIMIT.snapshot_count");
  CreateOptions o;
  o.size = 1 << 20;
  Made m = Make(o);
  ASSERT_NE(m.writer, nullptr);
  ASSERT_TRUE(m.writer->Flush().ok());
  std::vector<uint8_t> bytes = m.store->bytes();  // (the writer owns m.store)
  m.writer.reset();
  const uint64_t cs = 65536;
  std::vector<Snapshot> table(kMaxSnapshots - 1);
  for (size_t i = 0; i < table.size(); ++i) {
    table[i].id = std::to_string(i + 1);
    table[i].name = "s" + std::to_string(i);
    table[i].extra.assign(24, 0);
    StoreBe64(table[i].extra.data() + 8, o.size);         // disk size
    StoreBe64(table[i].extra.data() + 16, ~uint64_t{0});  // icount: none
  }
  const std::vector<uint8_t> raw = SerializeSnapshotTable(table);
  const uint64_t at = (bytes.size() + cs - 1) / cs * cs;
  const uint64_t clusters = (raw.size() + cs - 1) / cs;
  bytes.resize(at + clusters * cs, 0);
  std::copy(raw.begin(), raw.end(), bytes.begin() + at);
  StoreBe32(bytes.data() + 60, kMaxSnapshots - 1);
  StoreBe64(bytes.data() + 64, at);
  // 16-bit refcounts; the first refcount block covers these clusters.
  const uint64_t block = LoadBe64(bytes.data() + LoadBe64(bytes.data() + 48));
  for (uint64_t c = at / cs; c < at / cs + clusters; ++c) {
    StoreBe16(bytes.data() + block + 2 * c, 1);
  }
  auto store = std::make_unique<MemoryStore>(std::move(bytes));
  MemoryStore* s = store.get();
  auto w = ImageWriter::Open(std::move(store), WriterOptions());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  Status last = (*w)->SnapshotCreate("the limit");
  ASSERT_TRUE(last.ok()) << last.error().ToString();
  Status over = (*w)->SnapshotCreate("one more");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().clause, "QX.LIMIT.snapshot_count");
  ASSERT_TRUE((*w)->Flush().ok());
  EXPECT_EQ(LoadBe32(s->bytes().data() + 60), kMaxSnapshots);
}

// An acknowledged write into an image with an external data file is durable
// in the data file too: Flush() ends with the data file's own flush (the
// data the image's L2 entries point to; found missing by mutation
// writer.image_writer_ops.05).
TEST(WriterTest, FlushMakesTheExternalDataFileDurable) {
  QCOW2_SPEC("QX.WRITE.order_data_before_pointer");
  CreateOptions o;
  o.size = 1 << 20;
  o.data_file = "x.data";
  for (const bool raw : {false, true}) {
    o.data_file_raw = raw;
    auto data = std::make_unique<CrashStore>(std::vector<uint8_t>());
    CrashStore* d = data.get();
    WriterOptions wo;
    wo.data_file = std::move(data);
    // The writer's reads go through the reader, which opens the data file
    // by name beneath the image's directory: an empty one is there.
    const char* tmp = std::getenv("TEST_TMPDIR");
    wo.directory = tmp ? tmp : "/tmp";
    std::ofstream(wo.directory + "/x.data", std::ios::binary | std::ios::trunc);
    auto w =
        ImageWriter::Create(std::make_unique<MemoryStore>(), o, std::move(wo));
    ASSERT_TRUE(w.ok()) << w.error().ToString();
    const size_t before = d->Mark();
    std::vector<uint8_t> bytes(70000, 0x5a);
    ASSERT_TRUE((*w)->Write(4096, bytes.data(), bytes.size()).ok());
    ASSERT_TRUE((*w)->Flush().ok());
    const auto& events = d->events();
    bool wrote = false;
    for (size_t i = before; i < events.size(); ++i) wrote |= !events[i].flush;
    EXPECT_TRUE(wrote) << "raw " << raw << ": the data went elsewhere";
    ASSERT_FALSE(events.empty());
    EXPECT_TRUE(events.back().flush)
        << "raw " << raw << ": a write to the data file after its last flush";
  }
}

// A virtual size that is not a multiple of 512 shows size / 512 sectors
// (Q2.HDR.size.sector_multiple): the bytes past the last whole sector are
// not part of the disk, so the writer refuses to write them, as QEMU does
// (EIO), instead of allocating clusters no reader can read.
TEST(WriterTest, WritesStopAtTheLastWholeSector) {
  QCOW2_SPEC("Q2.HDR.size.sector_multiple");
  CreateOptions o;
  o.size = 1 << 20;
  Made m = Make(o);
  ASSERT_NE(m.writer, nullptr);
  ASSERT_TRUE(m.writer->Flush().ok());
  std::vector<uint8_t> bytes = m.store->bytes();
  m.writer.reset();
  StoreBe64(bytes.data() + 24, (1 << 20) + 100);
  auto store = std::make_unique<MemoryStore>(bytes);
  MemoryStore* raw = store.get();
  auto w = ImageWriter::Open(std::move(store), WriterOptions());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  const std::vector<uint8_t> data(100, 0x5a);
  EXPECT_FALSE((*w)->Write(1 << 20, data.data(), data.size()).ok());
  EXPECT_FALSE((*w)->WriteZeroes((1 << 20) - 512, 612).ok());
  EXPECT_FALSE((*w)->Discard(1 << 20, 100).ok());
  EXPECT_EQ(raw->bytes(), bytes) << "a refused write changed the image";
  // The last whole sector is still writable.
  EXPECT_TRUE((*w)->Write((1 << 20) - 512, data.data(), data.size()).ok());
}

// A partial write into a cluster of the external data file that lies past
// the data file's end (metadata preallocation, or a data file truncated
// since) reads the rest of the cluster as zeros, as QEMU does and as the
// writer did before the read path was shared: the copy-on-write read of a
// writer is not a reader's judgement of the image.
TEST(WriterTest, PartialWriteIntoDataFileClusterPastItsEnd) {
  QCOW2_SPEC("Q2.XDF.host_equals_guest");
  CreateOptions o;
  o.size = 1 << 20;
  o.data_file = "short.data";
  const uint64_t cs = uint64_t{1} << o.cluster_bits;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp ? tmp : "/tmp";
  std::ofstream(dir + "/short.data", std::ios::binary | std::ios::trunc);
  auto image = std::make_unique<MemoryStore>();
  MemoryStore* image_raw = image.get();
  {
    WriterOptions wo;
    wo.directory = dir;
    wo.data_file = std::make_unique<MemoryStore>();
    auto w = ImageWriter::Create(std::move(image), o, std::move(wo));
    ASSERT_TRUE(w.ok()) << w.error().ToString();
    // Cluster 1 is allocated (its L2 entry names guest offset cs).
    const std::vector<uint8_t> full(cs, 0x11);
    ASSERT_TRUE((*w)->Write(cs, full.data(), full.size()).ok());
    ASSERT_TRUE((*w)->Flush().ok());
    image = std::make_unique<MemoryStore>(image_raw->bytes());
  }
  // The data file now ends before cluster 1 starts.
  WriterOptions wo;
  wo.directory = dir;
  wo.data_file = std::make_unique<MemoryStore>(std::vector<uint8_t>(cs, 0));
  auto w = ImageWriter::Open(std::move(image), std::move(wo));
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  const std::vector<uint8_t> bytes(100, 0x5a);
  Status st = (*w)->Write(cs + 100, bytes.data(), bytes.size());
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  std::vector<uint8_t> back(cs, 0xff);
  st = (*w)->Read(cs, back.data(), back.size());
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  for (uint64_t i = 0; i < cs; ++i) {
    ASSERT_EQ(back[i], i >= 100 && i < 200 ? 0x5a : 0) << "byte " << i;
  }
}

}  // namespace
}  // namespace qcow2ref

namespace qcow2ref {
namespace {

std::vector<uint8_t> ReadView(const std::vector<uint8_t>& bytes,
                              const std::string& snapshot) {
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  EXPECT_TRUE(img.ok());
  if (!snapshot.empty()) {
    EXPECT_TRUE((*img)->SelectSnapshot(snapshot).ok());
  }
  std::vector<uint8_t> out((*img)->guest_size());
  EXPECT_TRUE((*img)->Read(0, out.data(), out.size()).ok());
  return out;
}

TEST(WriterSnapshotTest, CreateWriteApplyDelete) {
  QCOW2_SPEC("Q2.SNAP.refcounts");
  QCOW2_SPEC("QX.WRITE.cow_l2");
  QCOW2_SPEC("QX.WRITE.order_snapshot_table");
  CreateOptions o;
  o.size = 1 << 20;
  o.cluster_bits = 12;
  Made m = Make(o);
  std::vector<uint8_t> a(100000, 0xa1), b(50000, 0xb2);
  ASSERT_TRUE(m.writer->Write(0, a.data(), a.size()).ok());
  ASSERT_TRUE(m.writer->SnapshotCreate("one").ok());
  ExpectClean(m.store->bytes());
  ASSERT_TRUE(m.writer->Write(30000, b.data(), b.size()).ok());
  ASSERT_TRUE(m.writer->Flush().ok());
  ExpectClean(m.store->bytes());
  auto snap = ReadView(m.store->bytes(), "one");
  auto active = ReadView(m.store->bytes(), "");
  EXPECT_TRUE(std::equal(a.begin(), a.end(), snap.begin()));
  EXPECT_EQ(active[30000], 0xb2);
  EXPECT_EQ(active[29999], 0xa1);
  ASSERT_TRUE(m.writer->SnapshotCreate("two").ok());
  EXPECT_FALSE(m.writer->SnapshotCreate("two").ok());  // names are unique
  ASSERT_TRUE(m.writer->SnapshotApply("one").ok());
  ExpectClean(m.store->bytes());
  EXPECT_EQ(ReadView(m.store->bytes(), ""), snap);
  ASSERT_TRUE(m.writer->SnapshotDelete("one").ok());
  ASSERT_TRUE(m.writer->SnapshotDelete("2").ok());  // by id
  ExpectClean(m.store->bytes());
  EXPECT_EQ(ReadView(m.store->bytes(), ""), snap);
  EXPECT_TRUE(m.writer->snapshots().empty());
}

}  // namespace
}  // namespace qcow2ref
