// Crash safety (QX.WRITE.order_*): a workload runs on a store that records
// every write; power is cut after every write, and with the writes of the
// interrupted flush interval landing out of order. After every cut the image
// must open, check without corruption (leaks are allowed), and read back
// every write acknowledged by a flush; the interrupted operation's bytes may
// be old or new.
#include <gtest/gtest.h>

#include <cstring>

#include "reference/check/checker.h"
#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

using writer_test::Pattern;

enum class Kind { kWrite, kZero, kDiscard, kCompressed, kSnapshot, kDelete };

struct Op {
  Kind kind;
  uint64_t offset;
  uint64_t length;
  uint8_t fill;
};

struct Ack {
  size_t event;                // events() index after the op's flush
  std::vector<uint8_t> model;  // guest content then
};

class CrashTest : public ::testing::Test {
 protected:
  // Runs `ops` on a fresh image made with `options`, then checks every cut.
  // True within 60 events of a write to the header (where a refcount
  // table relocation switches tables).
  static bool NearHeaderWrite(const std::vector<CrashStore::Event>& events,
                              size_t cut) {
    const size_t lo = cut > 60 ? cut - 60 : 0;
    for (size_t i = lo; i < events.size() && i < cut + 60; ++i) {
      if (!events[i].flush && events[i].offset < 112) return true;
    }
    return false;
  }

  // `stride` > 1 cuts only at every stride-th write and near header writes
  // (for long workloads); 1 cuts everywhere.
  void Run(const CreateOptions& options, const std::vector<Op>& ops,
           const char* secret_text = nullptr, size_t stride = 1) {
    SecretBytes secret = SecretFromString(secret_text ? secret_text : "");
    const SecretBytes* sp = secret_text ? &secret : nullptr;
    // Create on a plain memory store, then continue on a recording store.
    auto created = writer_test::CreateImageBytes(options, sp);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    auto store = std::make_unique<CrashStore>(*created);
    CrashStore* log = store.get();
    WriterOptions wo;
    wo.secret = sp;
    auto writer = ImageWriter::Open(std::move(store), std::move(wo));
    ASSERT_TRUE(writer.ok()) << writer.error().ToString();
    const uint64_t size = (*writer)->size();
    std::vector<uint8_t> model(size, 0);
    std::vector<Ack> acks = {{0, model}};
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // op i's range
    for (const Op& op : ops) {
      std::vector<uint8_t> data = Pattern(op.length, op.fill);
      Status st;
      switch (op.kind) {
        case Kind::kWrite:
          st = (*writer)->Write(op.offset, data.data(), op.length);
          std::memcpy(model.data() + op.offset, data.data(), op.length);
          break;
        case Kind::kCompressed:
          st = (*writer)->WriteCompressed(op.offset, data.data(), op.length);
          std::memcpy(model.data() + op.offset, data.data(), op.length);
          break;
        case Kind::kZero:
          st = (*writer)->WriteZeroes(op.offset, op.length);
          std::memset(model.data() + op.offset, 0, op.length);
          break;
        case Kind::kDiscard:
          st = (*writer)->Discard(op.offset, op.length);
          std::memset(model.data() + op.offset, 0, op.length);
          break;
        case Kind::kSnapshot:
          st = (*writer)->SnapshotCreate("s" + std::to_string(op.fill));
          break;
        case Kind::kDelete:
          st = (*writer)->SnapshotDelete("s" + std::to_string(op.fill));
          break;
      }
      ASSERT_TRUE(st.ok()) << st.error().ToString();
      ASSERT_TRUE((*writer)->Flush().ok());
      acks.push_back({log->Mark(), model});
      ranges.push_back({op.offset, op.length});
    }
    const auto& events = log->events();
    int cuts = 0;
    for (size_t cut = 0; cut <= events.size(); ++cut) {
      if (stride > 1 && cut % stride != 0 && cut != events.size() &&
          !NearHeaderWrite(events, cut)) {
        continue;
      }
      // The state acknowledged before this cut, and the op in flight.
      size_t a = 0;
      while (a + 1 < acks.size() && acks[a + 1].event <= cut) ++a;
      const bool in_flight = a + 1 < acks.size() && cut < acks[a + 1].event;
      Verify(log->Replay(cut), acks, a, in_flight ? &ranges[a] : nullptr, sp,
             cut);
      ++cuts;
      // Reordering: at a flush boundary, each single write of the next
      // interval lands without the ones before it.
      if (stride == 1 && cut < events.size() &&
          (cut == 0 || events[cut - 1].flush)) {
        for (size_t j = cut; j < events.size() && !events[j].flush; ++j) {
          Verify(log->Replay(cut, {j}), acks, a,
                 in_flight ? &ranges[a] : nullptr, sp, cut);
          ++cuts;
        }
      }
      if (HasFatalFailure()) return;
    }
    EXPECT_GT(cuts, 20);
  }

  void Verify(const std::vector<uint8_t>& bytes, const std::vector<Ack>& acks,
              size_t a, const std::pair<uint64_t, uint64_t>* flight,
              const SecretBytes* secret, size_t cut) {
    // The interrupted op changes only its own range: outside it, its state
    // equals the acknowledged one.
    std::vector<const std::vector<uint8_t>*> allowed = {&acks[a].model};
    if (flight) allowed.push_back(&acks[a + 1].model);
    const std::string problem =
        writer_test::JudgeCrashImage(bytes, allowed, secret);
    ASSERT_TRUE(problem.empty()) << "cut " << cut << ": " << problem;
  }
};

std::vector<Op> Workload(uint64_t cs, bool compressed) {
  std::vector<Op> ops = {
      {Kind::kWrite, 100, 300, 1},               // partial first cluster
      {Kind::kWrite, cs - 50, 2 * cs + 100, 2},  // across clusters
      {Kind::kWrite, 200, 50, 3},                // rewrite in place
      {Kind::kZero, cs, cs, 0},                  // whole-cluster zero
      {Kind::kZero, 10, 20, 0},                  // partial zero
      {Kind::kDiscard, 2 * cs, cs, 0},
      {Kind::kWrite, 5 * cs + 7, 3 * cs, 4},
  };
  if (compressed) {
    ops.push_back({Kind::kCompressed, 9 * cs, 2 * cs, 5});
    ops.push_back({Kind::kWrite, 9 * cs + 3, 10, 6});  // over compressed
  }
  return ops;
}

TEST_F(CrashTest, PlainImageEveryCut) {
  QCOW2_SPEC("QX.WRITE.order_data_before_pointer");
  QCOW2_SPEC("QX.WRITE.order_decrement_after_pointer");
  QCOW2_SPEC("QX.WRITE.order_refblock");
  // 512-byte clusters with 64-bit refcounts: a refcount block covers only
  // 64 clusters, so the workload allocates new refcount blocks.
  CreateOptions o;
  o.size = 1 << 20;
  o.cluster_bits = 9;
  o.refcount_order = 6;
  std::vector<Op> ops = Workload(512, true);
  ops.push_back({Kind::kWrite, 600 << 10, 80 * 512, 7});
  Run(o, ops);
}

TEST_F(CrashTest, Snapshots) {
  QCOW2_SPEC("QX.WRITE.order_snapshot_table");
  QCOW2_SPEC("QX.WRITE.cow_l2");
  CreateOptions o;
  o.size = 1 << 20;
  o.cluster_bits = 12;
  Run(o, {{Kind::kWrite, 100, 20000, 1},
          {Kind::kSnapshot, 0, 0, 1},
          {Kind::kWrite, 5000, 3000, 2},  // copies a shared table and data
          {Kind::kSnapshot, 0, 0, 2},
          {Kind::kZero, 4096, 4096, 0},
          {Kind::kDelete, 0, 0, 1},
          {Kind::kWrite, 9000, 100, 3},
          {Kind::kDelete, 0, 0, 2}});
}

TEST_F(CrashTest, RefcountTableGrowth) {
  QCOW2_SPEC("QX.WRITE.order_reftable");
  // A one-cluster table of 64 entries x 64 clusters covers 2 MiB of file:
  // writing 2.5 MiB forces a bigger table, written before the header points
  // to it. Cuts every 211 writes and at every write near the switch.
  CreateOptions o;
  o.size = 3 << 20;
  o.cluster_bits = 9;
  o.refcount_order = 6;
  Run(o, {{Kind::kWrite, 0, 5 << 19, 9}, {Kind::kWrite, 100, 1000, 10}},
      nullptr, 211);
}

TEST_F(CrashTest, LegacyAesImage) {
  QCOW2_SPEC("Q2.ENC.aes.iv_guest_sector");
  CreateOptions o;
  o.size = 2 << 20;
  o.cluster_bits = 12;
  o.encryption = Encryption::kAes;
  Run(o, Workload(4096, false), "crash-aes");
}

TEST_F(CrashTest, LuksImageExtendedL2) {
  QCOW2_SPEC("Q2.ENC.luks.iv_host_sector");
  CreateOptions o;
  o.size = 2 << 20;
  o.cluster_bits = 14;
  o.extended_l2 = true;
  o.encryption = Encryption::kLuks;
  o.luks_cipher = "aes-128-cbc-essiv:sha256";
  o.luks_iterations = 1000;
  Run(o, Workload(16384, false), "crash-luks");
}

}  // namespace
}  // namespace qcow2ref
