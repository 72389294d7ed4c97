// Crash safety as a property (QX.WRITE.order_*): a generated image (version
// 2 or 3, 512 B..64 KiB clusters, refcount widths 1..64 bits, extended L2,
// no encryption, legacy AES or LUKS) runs a generated workload of
// unaligned writes, write-zeroes, discards, compressed writes and snapshot
// create/delete/apply, each followed by a flush or not, on a CrashStore that
// records every write. Power is then cut at generated write indexes, and
// optionally a generated subset of the writes of the interrupted flush
// interval lands too, out of order, and a prefix of one more of them (a torn
// write, cut at a sector boundary, or at an odd byte on unencrypted
// images: crash_explore.h). After every cut:
//   - the image opens and checks without corruption (leaks are allowed:
//     QX.WRITE.order_decrement_after_pointer makes a crash leak, never
//     corrupt);
//   - every guest byte is the one the last flush acknowledged, or one that
//     an interrupted (started but not acknowledged) operation wrote;
//   - every snapshot the image lists reads as the guest did when it was
//     taken, and every acknowledged snapshot that no interrupted operation
//     deletes is listed (QX.WRITE.order_snapshot_table).
// Expected states come from a model (byte vectors), never from the writer.
//
// Clauses: QX.WRITE.order_data_before_pointer,
// QX.WRITE.order_decrement_after_pointer, QX.WRITE.order_refblock,
// QX.WRITE.order_reftable, QX.WRITE.order_snapshot_table, QX.WRITE.cow_l2,
// Q2.SNAP.refcounts.
//
// The seed and number of cases come from RC_PARAMS (.bazelrc).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/crash_explore.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

using writer_test::FirstDifference;
using writer_test::JudgeCrashImage;
using writer_test::Pattern;
using writer_test::ReadGuest;

enum class Kind {
  kWrite,
  kZero,
  kDiscard,
  kCompressed,
  kSnap,
  kDelete,
  kApply
};

struct Op {
  Kind kind = Kind::kWrite;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t fill = 0;
  std::string name;   // snapshots
  bool flush = true;  // acknowledged by a flush afterwards
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* const kNames[] = {
      "write", "zero", "discard", "compressed", "snapshot", "delete", "apply"};
  os << kNames[static_cast<int>(op.kind)];
  if (op.kind >= Kind::kSnap) {
    os << " " << op.name;
  } else {
    os << " " << op.offset << " +" << op.length;
    if (op.kind == Kind::kWrite || op.kind == Kind::kCompressed) {
      os << " fill " << int(op.fill);
    }
  }
  return os << (op.flush ? ", flush" : "");
}

struct Workload {
  CreateOptions create;
  std::string secret;
  std::vector<Op> ops;
};

std::ostream& operator<<(std::ostream& os, const Workload& w) {
  const CreateOptions& o = w.create;
  os << "{size " << o.size << ", v" << o.version << ", cluster_bits "
     << o.cluster_bits << ", refcount_order " << o.refcount_order
     << ", extended_l2 " << o.extended_l2 << ", encryption "
     << static_cast<int>(o.encryption) << "}\n";
  for (const Op& op : w.ops) os << "  " << op << "\n";
  return os;
}

rc::Gen<Workload> GenWorkload() {
  return rc::gen::withSize([](int size) {
    return rc::gen::exec([size]() {
      Workload w;
      CreateOptions& o = w.create;
      o.size = 512 * *rc::gen::inRange<uint64_t>(2048, 4097);  // 1..2 MiB
      auto pick = [](uint32_t lo, uint32_t hi) {
        return *rc::gen::inRange(lo, hi);
      };
      writer_test::PickGeometry(&o, pick);
      w.secret = writer_test::PickEncryption(&o, pick);
      const uint64_t cs = uint64_t{1} << o.cluster_bits;
      const uint64_t clusters = (o.size + cs - 1) / cs;
      const uint64_t max_rc = writer_test::MaxRefcount(o.refcount_order);
      // Snapshots only while every cluster can take one more reference
      // (each snapshot and the active view hold one; apply adds one more).
      std::vector<std::string> names;
      int next_name = 0;
      bool packed = false;
      const int count = *rc::gen::inRange(1, 2 + size / 10);  // 1..11
      for (int i = 0; i < count; ++i) {
        Op op;
        // Weighted by repetition.
        std::vector<Kind> kinds = {Kind::kWrite,  Kind::kWrite, Kind::kWrite,
                                   Kind::kWrite,  Kind::kZero,  Kind::kZero,
                                   Kind::kDiscard};
        if (o.encryption == Encryption::kNone) {
          kinds.insert(kinds.end(), 2, Kind::kCompressed);
        }
        // Once compressed data is written, several compressed clusters may
        // share one host cluster (packed as QEMU packs them): then only the
        // bound "every L2 entry of every table names one host cluster"
        // guarantees room (found by the long run: 2-bit refcounts, two
        // packed clusters, then a snapshot).
        const uint64_t tables = names.size() + 2;
        const bool fits =
            tables <= max_rc && (!packed || clusters <= max_rc / tables);
        if (fits && names.size() < 3) kinds.push_back(Kind::kSnap);
        if (!names.empty()) kinds.push_back(Kind::kDelete);
        if (fits && !names.empty()) kinds.push_back(Kind::kApply);
        op.kind = *rc::gen::elementOf(kinds);
        if (op.kind == Kind::kCompressed) packed = true;
        op.fill = *rc::gen::arbitrary<uint8_t>();
        switch (op.kind) {
          case Kind::kCompressed:
            op.offset = cs * *rc::gen::inRange<uint64_t>(0, clusters);
            op.length = std::min(o.size - op.offset,
                                 cs * *rc::gen::inRange<uint64_t>(1, 3));
            break;
          case Kind::kSnap:
            op.name = "s" + std::to_string(next_name++);
            names.push_back(op.name);
            break;
          case Kind::kDelete:
          case Kind::kApply:
            op.name = *rc::gen::elementOf(names);
            if (op.kind == Kind::kDelete) {
              names.erase(std::find(names.begin(), names.end(), op.name));
            }
            break;
          default:
            op.offset = *rc::gen::inRange<uint64_t>(0, o.size);
            op.length = *rc::gen::inRange<uint64_t>(
                1, std::min(o.size - op.offset, 3 * cs + 500) + 1);
            break;
        }
        op.flush = *rc::gen::weightedElement<bool>({{3, true}, {1, false}});
        w.ops.push_back(op);
      }
      return w;
    });
  });
}

// The guest and snapshot table after each operation.
struct State {
  std::vector<uint8_t> guest;
  std::map<std::string, std::vector<uint8_t>> snapshots;
};

State Apply(const State& s, const Op& op) {
  State n = s;
  switch (op.kind) {
    case Kind::kWrite:
    case Kind::kCompressed: {
      const std::vector<uint8_t> data = Pattern(op.length, op.fill);
      std::memcpy(n.guest.data() + op.offset, data.data(), op.length);
      break;
    }
    case Kind::kZero:
    case Kind::kDiscard:
      std::memset(n.guest.data() + op.offset, 0, op.length);
      break;
    case Kind::kSnap:
      n.snapshots[op.name] = s.guest;
      break;
    case Kind::kDelete:
      n.snapshots.erase(op.name);
      break;
    case Kind::kApply:
      n.guest = s.snapshots.at(op.name);
      break;
  }
  return n;
}

Status Run(ImageWriter* w, const Op& op) {
  const std::vector<uint8_t> data = Pattern(op.length, op.fill);
  switch (op.kind) {
    case Kind::kWrite:
      return w->Write(op.offset, data.data(), op.length);
    case Kind::kCompressed:
      return w->WriteCompressed(op.offset, data.data(), op.length);
    case Kind::kZero:
      return w->WriteZeroes(op.offset, op.length);
    case Kind::kDiscard:
      return w->Discard(op.offset, op.length);
    case Kind::kSnap:
      return w->SnapshotCreate(op.name);
    case Kind::kDelete:
      return w->SnapshotDelete(op.name);
    case Kind::kApply:
      return w->SnapshotApply(op.name);
  }
  return OkStatus();
}

// Snapshots after a crash: each listed one reads as it was taken; each
// acknowledged one survives unless an interrupted op deletes it.
std::string JudgeSnapshots(const std::vector<uint8_t>& bytes,
                           const SecretBytes* secret,
                           const std::vector<State>& states, size_t acked,
                           size_t last) {
  OpenOptions o;
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), o, secret);
  if (!img.ok()) return img.error().ToString();
  std::set<std::string> listed;
  for (const Snapshot& s : (*img)->snapshots()) {
    listed.insert(s.name);
    const std::vector<uint8_t>* want = nullptr;
    for (size_t k = acked; k <= last && !want; ++k) {
      auto it = states[k].snapshots.find(s.name);
      if (it != states[k].snapshots.end()) want = &it->second;
    }
    if (!want) return "unexpected snapshot " + s.name;
    auto view =
        Image::OpenSource(std::make_unique<MemorySource>(bytes), o, secret);
    if (!view.ok() || !(*view)->SelectSnapshot(s.name).ok()) {
      return "snapshot " + s.name + " does not open";
    }
    std::vector<uint8_t> guest;
    std::string error = ReadGuest(**view, &guest);
    if (error.empty()) error = FirstDifference(guest, *want);
    if (!error.empty()) return "snapshot " + s.name + ": " + error;
  }
  for (const auto& [name, content] : states[acked].snapshots) {
    bool kept = true;
    for (size_t k = acked; k <= last; ++k) {
      if (!states[k].snapshots.count(name)) kept = false;
    }
    if (kept && !listed.count(name)) {
      return "acknowledged snapshot " + name + " is gone";
    }
  }
  return "";
}

RC_GTEST_PROP(CrashProperty, CutAnywhereLeavesAcknowledgedState, ()) {
  QCOW2_SPEC("QX.WRITE.order_data_before_pointer");
  QCOW2_SPEC("QX.WRITE.order_decrement_after_pointer");
  QCOW2_SPEC("QX.WRITE.order_refblock");
  QCOW2_SPEC("QX.WRITE.order_reftable");
  QCOW2_SPEC("QX.WRITE.order_snapshot_table");
  QCOW2_SPEC("QX.WRITE.cow_l2");
  QCOW2_SPEC("Q2.SNAP.refcounts");
  const Workload w = *GenWorkload();
  SecretBytes secret = SecretFromString(w.secret);
  const SecretBytes* sp = w.secret.empty() ? nullptr : &secret;

  auto created = writer_test::CreateImageBytes(w.create, sp);
  if (!created.ok()) RC_FAIL("create: " + created.error().ToString());
  auto store = std::make_unique<CrashStore>(*created);
  CrashStore* log = store.get();
  WriterOptions wo;
  wo.secret = sp;
  auto writer = ImageWriter::Open(std::move(store), std::move(wo));
  if (!writer.ok()) RC_FAIL("open: " + writer.error().ToString());

  // states[k]: after k ops. starts[k]: first event of op k.
  // acks: (event index after the flush, state index it acknowledges).
  std::vector<State> states = {{std::vector<uint8_t>(w.create.size, 0), {}}};
  std::vector<size_t> starts;
  std::vector<std::pair<size_t, size_t>> acks = {{0, 0}};
  for (const Op& op : w.ops) {
    starts.push_back(log->Mark());
    Status st = Run(writer->get(), op);
    if (!st.ok()) RC_FAIL(st.error().ToString());
    states.push_back(Apply(states.back(), op));
    if (op.flush) {
      RC_ASSERT((*writer)->Flush().ok());
      acks.push_back({log->Mark(), states.size() - 1});
    }
  }
  const auto& events = log->events();

  // Generated cuts, plus the end of the workload.
  std::vector<size_t> cuts = *rc::gen::container<std::vector<size_t>>(
      *rc::gen::inRange<size_t>(1, 7),
      rc::gen::inRange<size_t>(0, events.size() + 1));
  cuts.push_back(events.size());
  for (size_t cut : cuts) {
    // Writes of the interrupted flush interval that land anyway.
    size_t next_flush = cut;
    while (next_flush < events.size() && !events[next_flush].flush) {
      ++next_flush;
    }
    std::vector<size_t> extra;
    if (next_flush > cut) {
      extra = *rc::gen::container<std::vector<size_t>>(
          *rc::gen::inRange<size_t>(0, 4),
          rc::gen::inRange<size_t>(cut, next_flush));
    }
    // And sometimes a torn write: a prefix of one more write of the
    // interval, cut at a sector boundary (or, unencrypted, an odd byte).
    size_t torn = events.size(), torn_bytes = 0;
    if (next_flush > cut &&
        *rc::gen::weightedElement<bool>({{2, false}, {1, true}})) {
      const size_t t = *rc::gen::inRange<size_t>(cut, next_flush);
      const std::vector<size_t> tears = writer_test::crash_detail::TearPoints(
          events[t].offset, events[t].data.size(),
          w.create.encryption == Encryption::kNone);
      if (!tears.empty()) {
        torn = t;
        torn_bytes = *rc::gen::elementOf(tears);
      }
    }
    size_t reach = cut;  // events at or past it did not land
    for (size_t e : extra) reach = std::max(reach, e + 1);
    if (torn < events.size()) reach = std::max(reach, torn + 1);
    // The acknowledged state, and the last op that had started.
    size_t acked = 0;
    for (const auto& [event, state] : acks) {
      if (event <= cut) acked = state;
    }
    size_t last = acked;
    for (size_t k = acked; k < starts.size(); ++k) {
      if (starts[k] < reach) last = k + 1;
    }
    std::vector<const std::vector<uint8_t>*> allowed;
    for (size_t k = acked; k <= last; ++k) allowed.push_back(&states[k].guest);
    const std::vector<uint8_t> bytes =
        torn < events.size() ? log->ReplayTorn(cut, extra, torn, torn_bytes)
                             : log->Replay(cut, extra);
    std::string problem = JudgeCrashImage(bytes, allowed, sp);
    if (problem.empty()) {
      problem = JudgeSnapshots(bytes, sp, states, acked, last);
    }
    if (!problem.empty()) {
      RC_FAIL("cut " + std::to_string(cut) + " of " +
              std::to_string(events.size()) + " (+" +
              std::to_string(extra.size()) + " reordered" +
              (torn < events.size()
                   ? ", write " + std::to_string(torn) + " torn after " +
                         std::to_string(torn_bytes) + " bytes"
                   : std::string()) +
              "): " + problem);
    }
  }
}

}  // namespace
}  // namespace qcow2ref
