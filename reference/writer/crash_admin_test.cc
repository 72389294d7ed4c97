// Crash safety of the operations that are not guest writes: LUKS key
// changes (luks_keys.cc, QX.LUKS.key_order) and refcount repair
// (rebuild.cc: `check --repair all`, and the deferred rebuild
// ImageWriter::PrepareForWriting runs on a dirty image,
// QX.CHECK.repair_rebuild / QX.WRITE.dirty_refused). Each workload runs on
// a CrashStore; ExploreCrashes (crash_explore.h) rebuilds the image a power
// cut could leave in every flush interval (every subset of short intervals,
// sampled subsets of long ones, sector-granular torn writes). Judges:
//   - key changes: every passphrase valid before and still valid after the
//     interrupted operation unlocks the image and reads the guest data
//     unchanged (the checker finds no corruption); some passphrase valid
//     before or after unlocks (changing the only passphrase never locks the
//     image); a passphrase valid neither before nor after does not unlock;
//   - repair: the guest and the snapshot read exactly as before (a repair
//     never changes data); the image either checks without corruption
//     (leaks allowed) or is marked dirty and a rebuild of it (what QEMU
//     runs when it opens a dirty image) succeeds and checks clean. After
//     the whole repair the image checks clean, leaks included.
// Expected data come from a model (patterns written by the setup).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "reference/check/checker.h"
#include "reference/check/rebuild.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/header.h"
#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/endian.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/crash_explore.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/luks_keys.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

using writer_test::CrashCoverage;
using writer_test::CrashPlan;
using writer_test::CrashPoint;
using writer_test::FirstDifference;
using writer_test::Pattern;
using writer_test::ReadGuest;

// The acknowledged operation count before an interval starting at `start`
// (acked_at[k]: the event index after operation k, acked_at[0] = 0).
size_t AckedBefore(const std::vector<size_t>& acked_at, size_t start) {
  size_t a = 0;
  while (a + 1 < acked_at.size() && acked_at[a + 1] <= start) ++a;
  return a;
}

// ------------------------------------------------------------ key changes

TEST(CrashAdminTest, LuksKeyChangesKeepEveryValidPassphrase) {
  QCOW2_SPEC("QX.LUKS.key_order");
  QCOW2_SPEC("QX.LUKS.keep_last_slot");
  const std::vector<std::string> names = {"p0", "p1", "p2", "p3"};
  std::vector<SecretBytes> keys;
  for (const std::string& n : names) keys.push_back(SecretFromString(n));
  CreateOptions o;
  o.size = 256 << 10;
  o.cluster_bits = 12;
  o.encryption = Encryption::kLuks;
  o.luks_cipher = "aes-256-xts-plain64";
  o.luks_iterations = 1000;
  auto created = writer_test::CreateImageBytes(o, &keys[0]);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  // Setup (unrecorded): guest data under the master key.
  std::vector<uint8_t> guest(o.size, 0);
  std::vector<uint8_t> start;
  {
    auto mem = std::make_unique<MemoryStore>(*created);
    MemoryStore* raw = mem.get();
    WriterOptions wo;
    wo.secret = &keys[0];
    auto w = ImageWriter::Open(std::move(mem), std::move(wo));
    ASSERT_TRUE(w.ok()) << w.error().ToString();
    const std::vector<uint8_t> data = Pattern(70000, 3);
    ASSERT_TRUE((*w)->Write(1000, data.data(), data.size()).ok());
    ASSERT_TRUE((*w)->Flush().ok());
    std::memcpy(guest.data() + 1000, data.data(), data.size());
    start = raw->bytes();
  }
  CrashStore log(start);
  KeySlotOptions ko;
  ko.iterations = 1000;
  // valid[k]: the passphrases that unlock after k operations.
  std::vector<std::set<int>> valid = {{0}};
  std::vector<size_t> acked_at = {0};
  auto done = [&](std::set<int> now) {
    valid.push_back(std::move(now));
    acked_at.push_back(log.Mark());
  };
  ASSERT_TRUE(LuksAddKey(&log, keys[0], keys[1], ko).ok());
  done({0, 1});
  ASSERT_TRUE(LuksAddKey(&log, keys[1], keys[2], ko).ok());
  done({0, 1, 2});
  ASSERT_TRUE(LuksRemoveKey(&log, keys[0], std::nullopt).ok());
  done({1, 2});
  ASSERT_TRUE(LuksChangeKey(&log, keys[1], keys[3], ko).ok());
  done({2, 3});
  ASSERT_TRUE(LuksRemoveKey(&log, keys[2], std::nullopt).ok());
  done({3});
  // The only passphrase changed: no crash may lock the image.
  ASSERT_TRUE(LuksChangeKey(&log, keys[3], keys[0], ko).ok());
  done({0});
  EXPECT_FALSE(LuksRemoveKey(&log, keys[0], std::nullopt).ok());  // Last.

  auto judge = [&](const std::vector<uint8_t>& bytes,
                   const CrashPoint& p) -> std::string {
    const size_t a = AckedBefore(acked_at, p.start);
    const bool in_flight = a + 1 < valid.size() && p.reach() > acked_at[a];
    const std::set<int>& before = valid[a];
    const std::set<int>& after = in_flight ? valid[a + 1] : valid[a];
    bool checked = false, some = false;
    for (int k = 0; k < static_cast<int>(keys.size()); ++k) {
      const bool must = before.count(k) && after.count(k);
      const bool may = before.count(k) || after.count(k);
      if (must) {
        // Opens, reads the data unchanged; the checker once per state.
        std::string problem;
        if (!checked) {
          problem = writer_test::JudgeCrashImage(bytes, {&guest}, &keys[k]);
          checked = true;
        } else {
          OpenOptions oo;
          auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes),
                                       oo, &keys[k]);
          if (!img.ok()) {
            problem = "does not open: " + img.error().ToString();
          } else {
            std::vector<uint8_t> got;
            problem = ReadGuest(**img, &got);
            if (problem.empty()) problem = FirstDifference(got, guest);
          }
        }
        if (!problem.empty()) return names[k] + ": " + problem;
        some = true;
      } else if (may && !some) {
        // Valid before or after: at least one such passphrase must unlock
        // (a change of the only passphrase never locks the image).
        OpenOptions oo;
        auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), oo,
                                     &keys[k]);
        std::vector<uint8_t> got;
        some = img.ok() && ReadGuest(**img, &got).empty() && got == guest;
      } else if (!may) {
        OpenOptions oo;
        auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), oo,
                                     &keys[k]);
        std::vector<uint8_t> got;
        if (img.ok() && ReadGuest(**img, &got).empty() && got == guest) {
          return names[k] + " unlocks, but is valid neither before nor after";
        }
      }
    }
    if (!some) return "no passphrase valid before or after unlocks";
    return "";
  };
  CrashPlan plan;
  plan.byte_tears = false;  // LUKS slot fields lie inside one sector.
  CrashCoverage cov;
  EXPECT_EQ(writer_test::ExploreCrashes(log, plan, judge, &cov), "");
  std::printf("coverage: %s\n", cov.ToString().c_str());
  RecordProperty("coverage", cov.ToString());
  EXPECT_GE(cov.intervals, 10u);
  EXPECT_GT(cov.torn, 0u);
}

// ----------------------------------------------------------------- repair

struct Damaged {
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> guest;     // The active view (model).
  std::vector<uint8_t> snapshot;  // Snapshot "s" (model).
};

// An image with data, a snapshot "s" and more data; then damaged as lazy
// refcounts and a crash leave it: the refcounts of every cluster from
// `lost_from` on zeroed, COPIED set on an active L2 entry whose cluster the
// snapshot shares, and the dirty bit set when `dirty`.
Damaged MakeDamaged(bool dirty) {
  Damaged d;
  CreateOptions o;
  o.size = 1 << 20;
  o.cluster_bits = 12;
  o.version = 3;
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* raw = store.get();
  auto w = ImageWriter::Create(std::move(store), o, WriterOptions());
  EXPECT_TRUE(w.ok());
  d.guest.assign(o.size, 0);
  const std::vector<uint8_t> a = Pattern(120000, 1), b = Pattern(30000, 2);
  EXPECT_TRUE((*w)->Write(5000, a.data(), a.size()).ok());
  std::memcpy(d.guest.data() + 5000, a.data(), a.size());
  EXPECT_TRUE((*w)->SnapshotCreate("s").ok());
  d.snapshot = d.guest;
  EXPECT_TRUE((*w)->Write(60000, b.data(), b.size()).ok());
  std::memcpy(d.guest.data() + 60000, b.data(), b.size());
  EXPECT_TRUE((*w)->Flush().ok());
  d.bytes = raw->bytes();
  std::vector<uint8_t>& bytes = d.bytes;
  auto h = ParseHeader(bytes.data(), bytes.size());
  EXPECT_TRUE(h.ok());
  // 16-bit refcounts, one block: counts of clusters 12.. lost.
  const uint64_t block = LoadBe64(bytes.data() + h->refcount_table_offset);
  for (uint64_t c = 12; c < bytes.size() / 4096; ++c) {
    StoreBe16(&bytes[block + 2 * c], 0);
  }
  // Guest cluster 2 is still shared with the snapshot: COPIED is wrong.
  const uint64_t l2 =
      LoadBe64(bytes.data() + h->l1_table_offset) & 0x00fffffffffffe00ull;
  const uint64_t e = LoadBe64(bytes.data() + l2 + 8 * 2);
  StoreBe64(&bytes[l2 + 8 * 2], e | kEntryCopied);
  if (dirty) {
    StoreBe64(&bytes[72], h->incompatible_features | kIncompatDirty);
  }
  return d;
}

// The active view and snapshot "s" of `bytes`; "" when they read as
// `guest_states` (per byte, one of them) and `snapshot`.
std::string JudgeData(const std::vector<uint8_t>& bytes,
                      const std::vector<const std::vector<uint8_t>*>& allowed,
                      const std::vector<uint8_t>& snapshot) {
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  if (!img.ok()) return "does not open: " + img.error().ToString();
  std::vector<uint8_t> got;
  std::string problem = ReadGuest(**img, &got);
  if (!problem.empty()) return "read: " + problem;
  for (size_t i = 0; i < got.size(); ++i) {
    bool ok = false;
    for (const std::vector<uint8_t>* s : allowed) ok = ok || got[i] == (*s)[i];
    if (!ok) return "guest byte " + std::to_string(i) + " changed";
  }
  auto view =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  if (!view.ok() || !(*view)->SelectSnapshot("s").ok()) {
    return "snapshot s does not open";
  }
  problem = ReadGuest(**view, &got);
  if (problem.empty()) problem = FirstDifference(got, snapshot);
  return problem.empty() ? "" : "snapshot s: " + problem;
}

// Consistent (leaks allowed), or dirty and repaired by a rebuild (as QEMU
// repairs a dirty image when it opens it) to a clean image with the same
// data.
std::string JudgeRepairable(const std::vector<uint8_t>& bytes,
                            const std::vector<uint8_t>& snapshot) {
  const std::string problem =
      writer_test::CheckFindings(bytes, nullptr, /*allow_leaks=*/true);
  if (problem.empty()) return "";
  if (!(LoadBe64(bytes.data() + 72) & kIncompatDirty)) {
    return "not dirty, and " + problem;
  }
  MemoryStore copy(bytes);
  auto done = RebuildRefcounts(&copy);
  if (!done.ok()) return "dirty, rebuild refused: " + done.error().ToString();
  std::string after =
      writer_test::CheckFindings(copy.bytes(), nullptr, /*allow_leaks=*/false);
  if (!after.empty()) return "dirty, rebuilt, still: " + after;
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  std::vector<uint8_t> before_guest;
  if (!img.ok() || !ReadGuest(**img, &before_guest).empty()) {
    return "does not read";
  }
  return JudgeData(copy.bytes(), {&before_guest}, snapshot);
}

TEST(CrashAdminTest, RepairAllSurvivesACrashAnywhere) {
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  QCOW2_SPEC("QX.WRITE.order_reftable");
  // `check --repair all` on an image whose refcounts are too low (not
  // dirty: corruption) and whose COPIED bit is wrong. Every crash state
  // must still read the same data and be repairable by running the repair
  // again; it never becomes worse than the damage it started from.
  const Damaged d = MakeDamaged(/*dirty=*/false);
  CrashStore log(d.bytes);
  auto done = RebuildRefcounts(&log);
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_GT(done->refcounts_changed, 0u);
  EXPECT_EQ(done->copied_fixed, 1u);
  EXPECT_EQ(writer_test::CheckFindings(log.live(), nullptr, false), "");
  auto judge = [&](const std::vector<uint8_t>& bytes,
                   const CrashPoint&) -> std::string {
    std::string problem = JudgeData(bytes, {&d.guest}, d.snapshot);
    if (!problem.empty()) return problem;
    if (writer_test::CheckFindings(bytes, nullptr, true).empty()) return "";
    // Still damaged: the repair, run again, must finish the job.
    MemoryStore copy(bytes);
    auto again = RebuildRefcounts(&copy);
    if (!again.ok()) return "repair refused: " + again.error().ToString();
    problem = writer_test::CheckFindings(copy.bytes(), nullptr, false);
    if (problem.empty()) {
      problem = JudgeData(copy.bytes(), {&d.guest}, d.snapshot);
    }
    return problem.empty() ? "" : "after a second repair: " + problem;
  };
  CrashCoverage cov;
  EXPECT_EQ(writer_test::ExploreCrashes(log, CrashPlan(), judge, &cov), "");
  std::printf("coverage: %s\n", cov.ToString().c_str());
  RecordProperty("coverage", cov.ToString());
  EXPECT_GE(cov.intervals, 3u);
}

TEST(CrashAdminTest, DeferredRebuildOfADirtyImage) {
  QCOW2_SPEC("QX.WRITE.dirty_refused");
  QCOW2_SPEC("QX.CHECK.repair_rebuild");
  // A dirty image (lazy refcounts lost, a wrong COPIED bit) opened for
  // writing: the first write rebuilds the refcounts, then writes. After any
  // crash the image is consistent or still dirty (QEMU repairs it when it
  // opens it), never clean-marked while inconsistent; the snapshot keeps
  // its data and the guest shows old or new bytes of the write.
  const Damaged d = MakeDamaged(/*dirty=*/true);
  CrashStore* log = nullptr;
  auto store = std::make_unique<CrashStore>(d.bytes);
  log = store.get();
  auto w = ImageWriter::Open(std::move(store), WriterOptions());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  const std::vector<uint8_t> data = Pattern(9000, 9);
  ASSERT_TRUE((*w)->Write(8000, data.data(), data.size()).ok());
  ASSERT_TRUE((*w)->Flush().ok());
  std::vector<uint8_t> after = d.guest;
  std::memcpy(after.data() + 8000, data.data(), data.size());
  EXPECT_EQ(writer_test::CheckFindings(log->live(), nullptr, false), "");
  auto judge = [&](const std::vector<uint8_t>& bytes,
                   const CrashPoint&) -> std::string {
    std::string problem = JudgeData(bytes, {&d.guest, &after}, d.snapshot);
    if (problem.empty()) problem = JudgeRepairable(bytes, d.snapshot);
    return problem;
  };
  CrashCoverage cov;
  EXPECT_EQ(writer_test::ExploreCrashes(*log, CrashPlan(), judge, &cov), "");
  std::printf("coverage: %s\n", cov.ToString().c_str());
  RecordProperty("coverage", cov.ToString());
  EXPECT_GE(cov.intervals, 4u);
}

}  // namespace
}  // namespace qcow2ref
