// The full repair (QX.CHECK.repair_rebuild): images made by the writer are
// damaged the way a crash with lazy refcounts leaves them (refcounts of data
// clusters missing, dirty bit set) plus a wrong COPIED bit; the rebuild must
// leave an image the checker calls clean with the same guest bytes, refuse
// what it cannot repair without writing, and survive a power cut after
// every one of its writes (also with the writes of the interrupted flush
// interval landing).
#include "reference/check/rebuild.h"

#include <gtest/gtest.h>

#include "reference/check/checker.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/header.h"
#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/endian.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref {
namespace {

std::vector<uint8_t> Guest(const std::vector<uint8_t>& bytes) {
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  EXPECT_TRUE(img.ok()) << img.error().ToString();
  if (!img.ok()) return {};
  std::vector<uint8_t> out((*img)->guest_size());
  EXPECT_TRUE((*img)->Read(0, out.data(), out.size()).ok());
  return out;
}

CheckReport Check(const std::vector<uint8_t>& bytes) {
  auto r = CheckImage(std::make_unique<MemorySource>(bytes), CheckOptions());
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->report : CheckReport{};
}

// An image with data, a snapshot and more data, then damaged: every data
// cluster's refcount zeroed in its block, the dirty bit set, and COPIED set
// on an L2 entry of a cluster the snapshot shares.
std::vector<uint8_t> DamagedImage() {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* raw = store.get();
  CreateOptions o;
  o.size = 8 << 20;
  o.cluster_bits = 12;
  auto w = ImageWriter::Create(std::move(store), o, WriterOptions());
  EXPECT_TRUE(w.ok());
  std::vector<uint8_t> data(300000);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i * 7);
  EXPECT_TRUE((*w)->Write(5000, data.data(), data.size()).ok());
  EXPECT_TRUE((*w)->SnapshotCreate("s").ok());
  EXPECT_TRUE((*w)->Write(200000, data.data(), 50000).ok());
  EXPECT_TRUE((*w)->Flush().ok());
  std::vector<uint8_t> b = raw->bytes();
  auto h = ParseHeader(b.data(), b.size());
  EXPECT_TRUE(h.ok());
  const uint64_t block = LoadBe64(b.data() + h->refcount_table_offset);
  // 16-bit refcounts: drop the counts of clusters 20.. (data written later).
  for (uint64_t c = 20; c < b.size() / 4096; ++c)
    StoreBe16(&b[block + 2 * c], 0);
  StoreBe64(&b[72], h->incompatible_features | kIncompatDirty);
  // The snapshot shares guest cluster 2: mark it COPIED in the active L2.
  const uint64_t l2 =
      LoadBe64(b.data() + h->l1_table_offset) & 0x00fffffffffffe00ull;
  const uint64_t e = LoadBe64(b.data() + l2 + 8 * 2);
  StoreBe64(&b[l2 + 8 * 2], e | kEntryCopied);
  return b;
}

TEST(RebuildTest, RepairsRefcountsCopiedAndDirtyBit) {
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  const std::vector<uint8_t> damaged = DamagedImage();
  const CheckReport before = Check(damaged);
  ASSERT_GT(before.Count(Severity::kCorruption), 1u);
  const std::vector<uint8_t> guest = Guest(damaged);
  MemoryStore store(damaged);
  auto done = RebuildRefcounts(&store);
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_TRUE(done->dirty_cleared);
  EXPECT_GT(done->refcounts_changed, 0u);
  EXPECT_EQ(done->copied_fixed, 1u);
  const CheckReport after = Check(store.bytes());
  for (const Finding& f : after.findings)
    ADD_FAILURE() << f.clause << " " << f.message;
  EXPECT_TRUE(after.clean());
  EXPECT_EQ(Guest(store.bytes()), guest);
  auto h = ParseHeader(store.bytes().data(), store.bytes().size());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->incompatible_features & kIncompatDirty, 0u);
}

// An image that is already consistent is left byte for byte as it was: no
// new refcount table, no header write.
TEST(RebuildTest, LeavesAConsistentImageUnchanged) {
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  auto created = std::make_unique<MemoryStore>();
  MemoryStore* raw = created.get();
  CreateOptions o;
  o.size = 1 << 20;
  o.cluster_bits = 12;
  auto w = ImageWriter::Create(std::move(created), o, WriterOptions());
  ASSERT_TRUE(w.ok());
  const std::vector<uint8_t> data(10000, 0x5a);
  ASSERT_TRUE((*w)->Write(3000, data.data(), data.size()).ok());
  ASSERT_TRUE((*w)->Flush().ok());
  const std::vector<uint8_t> clean = raw->bytes();
  ASSERT_TRUE(Check(clean).clean());
  MemoryStore store(clean);
  auto done = RebuildRefcounts(&store);
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_EQ(done->refcounts_changed, 0u);
  EXPECT_EQ(done->copied_fixed, 0u);
  EXPECT_FALSE(done->dirty_cleared);
  EXPECT_EQ(store.bytes(), clean);
}

TEST(RebuildTest, RefusesWhatItCannotRepairWithoutWriting) {
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  std::vector<uint8_t> b = DamagedImage();
  auto h = ParseHeader(b.data(), b.size());
  ASSERT_TRUE(h.ok());
  // An L2 entry naming the L1 table: an overlap, not a count.
  const uint64_t l2 =
      LoadBe64(b.data() + h->l1_table_offset) & 0x00fffffffffffe00ull;
  StoreBe64(&b[l2 + 8 * 40], kEntryCopied | h->l1_table_offset);
  MemoryStore store(b);
  auto done = RebuildRefcounts(&store);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().clause, "QX.CHECK.repair_rebuild");
  EXPECT_EQ(store.bytes(), b);
}

TEST(RebuildTest, SurvivesAPowerCutAfterEveryWrite) {
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  QCOW2_SPEC("QX.WRITE.order_reftable");
  const std::vector<uint8_t> damaged = DamagedImage();
  const std::vector<uint8_t> guest = Guest(damaged);
  CrashStore store(damaged);
  ASSERT_TRUE(RebuildRefcounts(&store).ok());
  const auto& events = store.events();
  for (size_t cut = 0; cut <= events.size(); ++cut) {
    // The writes after the cut up to the next flush: none of them, or all
    // of them landing out of order.
    std::vector<size_t> rest;
    for (size_t i = cut; i < events.size() && !events[i].flush; ++i) {
      rest.push_back(i);
    }
    // And every single write of the interval landing alone: reordering
    // may put any of them on disk first (QX.WRITE.order_reftable).
    std::vector<std::vector<size_t>> extras = {{}, rest};
    for (size_t i : rest) extras.push_back({i});
    for (const auto& extra : extras) {
      SCOPED_TRACE(testing::Message()
                   << "cut " << cut << " extra " << extra.size());
      const std::vector<uint8_t> bytes = store.Replay(cut, extra);
      // The guest never changes, whatever landed.
      ASSERT_EQ(Guest(bytes), guest);
      // Either still damaged (and then repairable again) or repaired.
      MemoryStore again(bytes);
      auto redo = RebuildRefcounts(&again);
      ASSERT_TRUE(redo.ok()) << redo.error().ToString();
      ASSERT_TRUE(Check(again.bytes()).clean());
      ASSERT_EQ(Guest(again.bytes()), guest);
    }
  }
}

// What RebuildRefcounts returns is durable: its last store event is a
// flush, also when it ends by lifting the corrupt bit.
TEST(RebuildTest, EndsWithAFlush) {
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  for (bool corrupt : {false, true}) {
    SCOPED_TRACE(corrupt ? "corrupt bit set" : "corrupt bit clear");
    std::vector<uint8_t> damaged = DamagedImage();
    if (corrupt) {
      const uint64_t f = LoadBe64(damaged.data() + 72);
      StoreBe64(&damaged[72], f | kIncompatCorrupt);
    }
    CrashStore store(damaged);
    auto done = RebuildRefcounts(&store);
    ASSERT_TRUE(done.ok()) << done.error().ToString();
    EXPECT_EQ(done->corrupt_cleared, corrupt);
    ASSERT_FALSE(store.events().empty());
    EXPECT_TRUE(store.events().back().flush);
  }
}

}  // namespace
}  // namespace qcow2ref
