// Stateful property test (RapidCheck rc::state) of the writer against an
// independent model: a byte vector for the guest disk and one per internal
// snapshot. A generated image (version 2 or 3, 512 B..64 KiB clusters,
// refcount widths 1..64 bits, extended L2, zlib or zstd, a raw backing file
// shorter or longer than the disk, no encryption, legacy AES or LUKS) takes
// a generated sequence of commands: unaligned writes, write-zeroes,
// discards, compressed writes of whole clusters, snapshot create, delete and
// apply, and reopening (the writer is closed and ImageWriter::Open runs on
// the same bytes). After every command:
//   - the writer reads back the model's guest disk;
//   - the read-only reader (Image) opened on the current bytes reads back
//     the model's guest disk and every snapshot, and lists the model's
//     snapshots;
//   - the checker finds no corruption and no leak (Q2.RC.no_leaks): no
//     operation of the writer leaks by design, only crashes may.
// Refused operations (compressed writes into encrypted images,
// QX.WRITE.no_compressed_encryption; a snapshot whose references the
// refcount width cannot count, Q2.RC.max_references) must leave the image
// and the model unchanged and clean.
//
// Clauses: QX.WRITE.discard, QX.WRITE.cow_l2, QX.WRITE.order_snapshot_table,
// QX.WRITE.no_compressed_encryption, Q2.SNAP.refcounts, Q2.RC.no_leaks,
// Q2.RC.max_references, Q2.RC.covers_references, Q2.MAP.zero_flag,
// Q2.MAP.copied, Q2.CMP.descriptor, Q2.BK.past_end_zero,
// Q2.ENC.aes.iv_guest_sector, Q2.ENC.luks.iv_host_sector.
//
// The seed and number of cases come from RC_PARAMS (.bazelrc); a case runs
// at most 20 commands (fewer for the early, small cases).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "reference/check/checker.h"
#include "reference/image/image.h"
#include "reference/io/byte_store.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

using writer_test::CheckFindings;
using writer_test::FirstDifference;
using writer_test::Pattern;
using writer_test::ReadGuest;

// Bytes that do not compress (a linear congruential generator).
std::vector<uint8_t> Noise(uint64_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v)
    b = static_cast<uint8_t>((x = x * 1664525 + 1013904223) >> 24);
  return v;
}

// RapidCheck scales inRange by the generation size, and the commands run at
// a small size: draws of offsets, lengths and geometry use the nominal size
// so they reach the whole disk and every option.
template <typename T>
T Uniform(T lo, T hi) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(lo, hi));
}

// How often each promised class of case was generated, over the whole run
// (docs/property-tests.md lists them; ReachedEveryPromisedClass checks).
std::map<std::string, uint64_t>& Reach() {
  static std::map<std::string, uint64_t> counts;
  return counts;
}
void Hit(const std::string& what) { ++Reach()[what]; }

std::string TempDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t && *t ? t : "/tmp";
}

// ---------------------------------------------------------------- config

struct Config {
  CreateOptions create;
  std::string secret;               // "" without encryption
  std::optional<uint64_t> backing;  // raw backing file length
  uint32_t backing_seed = 0;
};

std::ostream& operator<<(std::ostream& os, const Config& c) {
  const CreateOptions& o = c.create;
  os << "{size " << o.size << ", v" << o.version << ", cluster_bits "
     << o.cluster_bits << ", refcount_order " << o.refcount_order
     << ", extended_l2 " << o.extended_l2 << ", compression "
     << int(o.compression_type) << ", encryption "
     << (o.encryption == Encryption::kNone  ? "none"
         : o.encryption == Encryption::kAes ? "aes"
                                            : "luks " + o.luks_cipher);
  if (c.backing) os << ", raw backing of " << *c.backing << " bytes";
  return os << "}";
}

rc::Gen<Config> GenConfig() {
  return rc::gen::exec([]() {
    Config c;
    CreateOptions& o = c.create;
    o.size = 512 * Uniform<uint64_t>(2048, 8193);  // 1..4 MiB
    auto pick = [](uint32_t lo, uint32_t hi) { return Uniform(lo, hi); };
    writer_test::PickGeometry(&o, pick);
    o.compression_type = o.version == 3 ? pick(0u, 2u) : 0;
    c.secret = writer_test::PickEncryption(&o, pick);
    if (*rc::gen::arbitrary<bool>()) {
      c.backing = Uniform<uint64_t>(1, o.size + 3 * 65536);
      c.backing_seed = *rc::gen::arbitrary<uint32_t>();
      Hit("config: raw backing file");
    }
    Hit(o.version == 2 ? "config: version 2" : "config: version 3");
    if (o.cluster_bits == 9) Hit("config: 512-byte clusters");
    if (o.cluster_bits == 16) Hit("config: 64 KiB clusters");
    if (o.extended_l2) Hit("config: extended L2");
    if (o.refcount_order < 4) Hit("config: refcounts narrower than 16 bits");
    if (o.refcount_order > 4) Hit("config: refcounts wider than 16 bits");
    if (o.size % (uint64_t{1} << o.cluster_bits) != 0) {
      Hit("config: size not a cluster multiple");
    }
    if (o.encryption == Encryption::kAes) Hit("config: legacy AES");
    if (o.encryption == Encryption::kLuks) Hit("config: LUKS");
    return c;
  });
}

// ----------------------------------------------------------------- model

struct Model {
  uint64_t size = 0;
  uint64_t cluster_size = 0;
  uint64_t l2_span = 0;  // Guest bytes one L2 table maps.
  uint64_t max_refcount = 0;
  bool encrypted = false;
  // Shared and never changed in place: RapidCheck copies models often.
  using Bytes = std::shared_ptr<const std::vector<uint8_t>>;
  Bytes guest;
  std::map<std::string, Bytes> snapshots;

  // Replaces `guest` by a changed copy.
  void Change(uint64_t offset, const uint8_t* data, uint64_t length) {
    auto next = std::make_shared<std::vector<uint8_t>>(*guest);
    if (data) {
      std::memcpy(next->data() + offset, data, length);
    } else {
      std::memset(next->data() + offset, 0, length);
    }
    guest = std::move(next);
  }
  int next_name = 0;

  // Set once compressed data that shrinks has been written: the writer then
  // packs several compressed clusters into one host cluster, as QEMU does,
  // and that host cluster holds one reference per fragment.
  bool packed = false;

  // Room for one more reference to every cluster: each snapshot and the
  // active view hold one, and apply briefly adds another. Once clusters are
  // packed, one host cluster may hold a reference from every L2 entry of
  // every table (a bound, not the exact count: the model does not know the
  // packing), so only that bound guarantees success.
  bool SnapshotFits() const {
    const uint64_t tables = snapshots.size() + 2;
    if (tables > max_refcount) return false;
    if (!packed) return true;
    const uint64_t clusters = (size + cluster_size - 1) / cluster_size;
    return clusters <= max_refcount / tables;
  }
  // Without packing, the refcount width alone decides; with it, a snapshot
  // may or may not fit depending on how the fragments were packed.
  bool SnapshotMayOverflow() const {
    return packed && snapshots.size() + 2 <= max_refcount && !SnapshotFits();
  }
};

// --------------------------------------------------- system under test

struct Sut {
  SecretBytes secret;
  const SecretBytes* secret_ptr = nullptr;
  std::string directory;
  MemoryStore* store = nullptr;
  std::unique_ptr<ImageWriter> writer;

  WriterOptions Options() const {
    WriterOptions wo;
    wo.secret = secret_ptr;
    wo.directory = directory;
    return wo;
  }
};

// Everything that must hold after every command.
void Verify(const Model& m, Sut& sut) {
  std::vector<uint8_t> back(m.size);
  Status st = sut.writer->Read(0, back.data(), back.size());
  RC_ASSERT(st.ok());
  std::string diff = FirstDifference(back, *m.guest);
  if (!diff.empty()) RC_FAIL("writer reads " + diff);

  const std::vector<uint8_t>& bytes = sut.store->bytes();
  OpenOptions o;
  o.follow_references = true;
  auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), o,
                               sut.secret_ptr, sut.directory);
  if (!img.ok()) RC_FAIL("reader cannot open: " + img.error().ToString());
  std::vector<uint8_t> guest;
  std::string error = ReadGuest(**img, &guest);
  if (!error.empty()) RC_FAIL("reader: " + error);
  diff = FirstDifference(guest, *m.guest);
  if (!diff.empty()) RC_FAIL("reader reads " + diff);
  std::vector<std::string> names;
  for (const Snapshot& s : (*img)->snapshots()) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  std::vector<std::string> want;
  for (const auto& [name, content] : m.snapshots) want.push_back(name);
  RC_ASSERT(names == want);
  for (const auto& [name, content] : m.snapshots) {
    RC_ASSERT((*img)->SelectSnapshot(name).ok());
    error = ReadGuest(**img, &guest);
    if (!error.empty()) RC_FAIL("snapshot " + name + ": " + error);
    diff = FirstDifference(guest, *content);
    if (!diff.empty()) RC_FAIL("snapshot " + name + " reads " + diff);
  }

  error = CheckFindings(bytes, sut.secret_ptr, /*allow_leaks=*/false);
  if (!error.empty()) RC_FAIL("check: " + error);
}

using Command = rc::state::Command<Model, Sut>;

struct Range {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// A byte range inside the disk: whole clusters or any bytes, starting
// anywhere, near an L2 table's boundary or near the end of the disk, up to
// four clusters and a bit long. Classes reached are counted.
Range GenRange(const Model& m) {
  Range r;
  const uint64_t cs = m.cluster_size;
  const uint64_t clusters = (m.size + cs - 1) / cs;
  const bool aligned = *rc::gen::arbitrary<bool>();
  switch (Uniform(0, 4)) {
    case 0: {  // Around an L2 table boundary (when the disk has one).
      const uint64_t spans = m.size / m.l2_span;
      if (spans > 0) {
        const uint64_t boundary = m.l2_span * Uniform<uint64_t>(1, spans + 1);
        const uint64_t back = Uniform<uint64_t>(1, 2 * cs + 1);
        r.offset = std::min(boundary, m.size) - std::min(back, boundary);
        break;
      }
      [[fallthrough]];
    }
    case 1:  // Near the end of the disk.
      r.offset = m.size - std::min(m.size, Uniform<uint64_t>(1, 3 * cs + 1));
      break;
    default:
      r.offset = Uniform<uint64_t>(0, m.size);
  }
  if (aligned) {
    r.offset = std::min(r.offset / cs, clusters - 1) * cs;
    r.length = std::min(m.size - r.offset, cs * Uniform<uint64_t>(1, 5));
  } else {
    const uint64_t most = std::min(m.size - r.offset, 4 * cs + 777);
    r.length = Uniform<uint64_t>(1, most + 1);
    if (r.offset % 512 != 0 || r.length % 512 != 0) Hit("range: unaligned");
  }
  const uint64_t end = r.offset + r.length;
  if (r.offset >= m.size / 10 * 9) Hit("range: in the last tenth of the disk");
  if (end == m.size) Hit("range: ends at the end of the disk");
  if (r.offset / m.l2_span != (end - 1) / m.l2_span) {
    Hit("range: spans two L2 tables");
  }
  return r;
}

struct Write : Command {
  Range r;
  uint8_t fill;
  explicit Write(const Model& m)
      : r(GenRange(m)), fill(*rc::gen::arbitrary<uint8_t>()) {}
  void apply(Model& m) const override {
    const std::vector<uint8_t> data = Pattern(r.length, fill);
    m.Change(r.offset, data.data(), r.length);
  }
  void run(const Model& m, Sut& sut) const override {
    const std::vector<uint8_t> data = Pattern(r.length, fill);
    Status st = sut.writer->Write(r.offset, data.data(), r.length);
    if (!st.ok()) RC_FAIL(st.error().ToString());
    Verify(nextState(m), sut);
  }
  void show(std::ostream& os) const override {
    os << "Write(" << r.offset << ", " << r.length << ", fill " << int(fill)
       << ")";
  }
};

struct Zero : Command {
  Range r;
  bool discard;
  explicit Zero(const Model& m)
      : r(GenRange(m)), discard(*rc::gen::arbitrary<bool>()) {}
  void apply(Model& m) const override { m.Change(r.offset, nullptr, r.length); }
  void run(const Model& m, Sut& sut) const override {
    Status st = discard ? sut.writer->Discard(r.offset, r.length)
                        : sut.writer->WriteZeroes(r.offset, r.length);
    if (!st.ok()) RC_FAIL(st.error().ToString());
    Verify(nextState(m), sut);
  }
  void show(std::ostream& os) const override {
    os << (discard ? "Discard(" : "WriteZeroes(") << r.offset << ", "
       << r.length << ")";
  }
};

struct Compressed : Command {
  uint64_t offset;
  uint64_t length;
  uint8_t fill;
  bool noise;  // does not shrink: stored uncompressed
  explicit Compressed(const Model& m) {
    const uint64_t cs = m.cluster_size;
    const uint64_t clusters = (m.size + cs - 1) / cs;
    offset =
        cs * (*rc::gen::arbitrary<bool>()
                  ? Uniform<uint64_t>(0, clusters)
                  : clusters - std::min(clusters, Uniform<uint64_t>(1, 4)));
    length = std::min(m.size - offset, cs * Uniform<uint64_t>(1, 9));
    fill = *rc::gen::arbitrary<uint8_t>();
    noise = *rc::gen::weightedElement<bool>({{3, false}, {1, true}});
    if (length > cs) Hit("compressed: several clusters");
    if (offset + length == m.size)
      Hit("compressed: ends at the end of the disk");
  }
  std::vector<uint8_t> Data() const {
    return noise ? Noise(length, fill) : Pattern(length, fill);
  }
  void apply(Model& m) const override {
    if (m.encrypted) return;  // refused
    const std::vector<uint8_t> data = Data();
    m.Change(offset, data.data(), length);
    if (!noise) m.packed = true;
  }
  void run(const Model& m, Sut& sut) const override {
    const std::vector<uint8_t> data = Data();
    Status st = sut.writer->WriteCompressed(offset, data.data(), length);
    if (m.encrypted) {
      RC_ASSERT(!st.ok());
      RC_ASSERT(st.error().clause == "QX.WRITE.no_compressed_encryption");
    } else if (!st.ok()) {
      RC_FAIL(st.error().ToString());
    }
    Verify(nextState(m), sut);
  }
  void show(std::ostream& os) const override {
    os << "WriteCompressed(" << offset << ", " << length << ", "
       << (noise ? "noise " : "fill ") << int(fill) << ")";
  }
};

struct SnapshotCreate : Command {
  explicit SnapshotCreate(const Model&) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.snapshots.size() < 3);
    RC_PRE(m.SnapshotFits());
  }
  void apply(Model& m) const override {
    m.snapshots["s" + std::to_string(m.next_name++)] = m.guest;
  }
  void run(const Model& m, Sut& sut) const override {
    Status st = sut.writer->SnapshotCreate("s" + std::to_string(m.next_name));
    if (!st.ok()) RC_FAIL(st.error().ToString());
    Verify(nextState(m), sut);
  }
  void show(std::ostream& os) const override { os << "SnapshotCreate"; }
};

// With a refcount width that cannot count one more reference (1 bit: every
// allocated cluster already has the most it can), a snapshot of an image
// with any table is refused (Q2.RC.max_references) and changes nothing.
// With no table yet, it has nothing to count and succeeds.
struct SnapshotCreateRefused : Command {
  explicit SnapshotCreateRefused(const Model&) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.max_refcount == 1);
    RC_PRE(m.snapshots.empty());
  }
  void run(const Model& m, Sut& sut) const override {
    const std::string name = "s" + std::to_string(m.next_name);
    Status st = sut.writer->SnapshotCreate(name);
    Model next = m;
    if (st.ok()) {
      // Only possible while nothing is allocated; the snapshot then reads
      // as the backing file or zeros, which is the model's guest.
      next.snapshots[name] = m.guest;
      ++next.next_name;
      Verify(next, sut);
      // Undo, to keep the model's snapshot list independent of whether
      // the image had tables.
      RC_ASSERT(sut.writer->SnapshotDelete(name).ok());
      Verify(m, sut);
      return;
    }
    RC_ASSERT(st.error().clause == "Q2.RC.max_references");
    Verify(m, sut);
  }
  void show(std::ostream& os) const override {
    os << "SnapshotCreate (1-bit refcounts)";
  }
};

// With packed compressed clusters and a narrow refcount width, a snapshot
// may exceed the width on a host cluster shared by several fragments (QEMU
// then refuses it with ERANGE). Either outcome is right, as long as a refusal
// names Q2.RC.max_references and changes nothing, and a success reads as the
// model says. The model keeps no snapshot either way (a success is undone).
struct SnapshotCreateMayOverflow : Command {
  explicit SnapshotCreateMayOverflow(const Model&) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.snapshots.size() < 3);
    RC_PRE(m.SnapshotMayOverflow());
  }
  void run(const Model& m, Sut& sut) const override {
    const std::string name = "s" + std::to_string(m.next_name);
    Status st = sut.writer->SnapshotCreate(name);
    if (st.ok()) {
      Hit("snapshot: packed clusters, fits");
      Model next = m;
      next.snapshots[name] = m.guest;
      Verify(next, sut);
      RC_ASSERT(sut.writer->SnapshotDelete(name).ok());
      Verify(m, sut);
      return;
    }
    Hit("snapshot: packed clusters, refused");
    RC_ASSERT(st.error().clause == "Q2.RC.max_references");
    Verify(m, sut);
  }
  void show(std::ostream& os) const override {
    os << "SnapshotCreate (packed clusters, may overflow)";
  }
};

// One of the model's snapshots ("" when it has none: the command is then
// discarded by its precondition).
std::string PickSnapshot(const Model& m) {
  if (m.snapshots.empty()) return "";
  std::vector<std::string> names;
  for (const auto& [n, c] : m.snapshots) names.push_back(n);
  return *rc::gen::elementOf(names);
}

struct SnapshotDelete : Command {
  std::string name;
  explicit SnapshotDelete(const Model& m) : name(PickSnapshot(m)) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.snapshots.count(name) == 1);
  }
  void apply(Model& m) const override { m.snapshots.erase(name); }
  void run(const Model& m, Sut& sut) const override {
    Status st = sut.writer->SnapshotDelete(name);
    if (!st.ok()) RC_FAIL(st.error().ToString());
    Verify(nextState(m), sut);
  }
  void show(std::ostream& os) const override {
    os << "SnapshotDelete(" << name << ")";
  }
};

struct SnapshotApply : Command {
  std::string name;
  explicit SnapshotApply(const Model& m) : name(PickSnapshot(m)) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.snapshots.count(name) == 1);
    RC_PRE(m.SnapshotFits());
  }
  void apply(Model& m) const override { m.guest = m.snapshots.at(name); }
  void run(const Model& m, Sut& sut) const override {
    Status st = sut.writer->SnapshotApply(name);
    if (!st.ok()) RC_FAIL(st.error().ToString());
    Verify(nextState(m), sut);
  }
  void show(std::ostream& os) const override {
    os << "SnapshotApply(" << name << ")";
  }
};

struct Reopen : Command {
  explicit Reopen(const Model&) {}
  void run(const Model& m, Sut& sut) const override {
    RC_ASSERT(sut.writer->Flush().ok());
    std::vector<uint8_t> bytes = sut.store->bytes();
    sut.writer.reset();
    sut.store = nullptr;
    auto store = std::make_unique<MemoryStore>(std::move(bytes));
    MemoryStore* raw = store.get();
    auto w = ImageWriter::Open(std::move(store), sut.Options());
    if (!w.ok()) RC_FAIL("reopen: " + w.error().ToString());
    sut.writer = std::move(w).value();
    sut.store = raw;
    Verify(m, sut);
  }
  void show(std::ostream& os) const override { os << "Reopen"; }
};

RC_GTEST_PROP(WriterModelProperty, MatchesModelAndChecksClean, ()) {
  QCOW2_SPEC("QX.WRITE.discard");
  QCOW2_SPEC("QX.WRITE.cow_l2");
  QCOW2_SPEC("QX.WRITE.order_snapshot_table");
  QCOW2_SPEC("QX.WRITE.no_compressed_encryption");
  QCOW2_SPEC("Q2.SNAP.refcounts");
  QCOW2_SPEC("Q2.RC.no_leaks");
  QCOW2_SPEC("Q2.RC.max_references");
  QCOW2_SPEC("Q2.RC.covers_references");
  QCOW2_SPEC("Q2.MAP.zero_flag");
  QCOW2_SPEC("Q2.MAP.copied");
  QCOW2_SPEC("Q2.CMP.descriptor");
  QCOW2_SPEC("Q2.BK.past_end_zero");
  QCOW2_SPEC("Q2.ENC.aes.iv_guest_sector");
  QCOW2_SPEC("Q2.ENC.luks.iv_host_sector");
  static int case_number = 0;
  const Config config = *GenConfig();

  Sut sut;
  sut.directory = TempDir();
  if (!config.secret.empty()) {
    sut.secret = SecretFromString(config.secret);
    sut.secret_ptr = &sut.secret;
  }
  Model m;
  m.size = config.create.size;
  m.cluster_size = uint64_t{1} << config.create.cluster_bits;
  m.l2_span =
      m.cluster_size / (config.create.extended_l2 ? 16 : 8) * m.cluster_size;
  m.max_refcount = writer_test::MaxRefcount(config.create.refcount_order);
  m.encrypted = config.create.encryption != Encryption::kNone;
  auto guest = std::make_shared<std::vector<uint8_t>>(m.size, 0);

  CreateOptions create = config.create;
  std::string backing_path;
  if (config.backing) {
    // A raw backing file: the guest starts as its bytes, and zeros past its
    // end (Q2.BK.past_end_zero).
    create.backing_file =
        "model_backing_" + std::to_string(case_number++) + ".raw";
    create.backing_format = "raw";
    backing_path = sut.directory + "/" + create.backing_file;
    const std::vector<uint8_t> content =
        Noise(*config.backing, config.backing_seed);
    std::ofstream(backing_path, std::ios::binary)
        .write(reinterpret_cast<const char*>(content.data()),
               static_cast<std::streamsize>(content.size()));
    std::copy(content.begin(),
              content.begin() + std::min<uint64_t>(content.size(), m.size),
              guest->begin());
  }
  m.guest = std::move(guest);
  auto store = std::make_unique<MemoryStore>();
  sut.store = store.get();
  auto w = ImageWriter::Create(std::move(store), create, sut.Options());
  if (!w.ok()) RC_FAIL("create: " + w.error().ToString());
  sut.writer = std::move(w).value();
  Verify(m, sut);

  // At most 20 commands; early cases (small RapidCheck size) get fewer.
  const auto commands =
      *rc::gen::scale(0.19, rc::state::gen::commands(m, [](const Model& s) {
                        return rc::state::gen::execOneOfWithArgs<
                            Write, Write, Zero, Compressed, SnapshotCreate,
                            SnapshotCreateRefused, SnapshotCreateMayOverflow,
                            SnapshotDelete, SnapshotApply, Reopen>()(s);
                      }));
  rc::state::runAll(commands, m, sut);
  if (!backing_path.empty()) std::remove(backing_path.c_str());
  Hit("cases");
}

// The property above must have generated every class its documentation
// promises (run after it: gtest keeps the order of a file's tests). With
// RapidCheck's default 100 cases each class is expected many times.
TEST(WriterModelProperty, ReachedEveryPromisedClass) {
  if (Reach()["cases"] < 50) {
    GTEST_SKIP() << "the property ran fewer than 50 cases";
  }
  static const char* const kPromised[] = {
      "config: raw backing file",
      "config: version 2",
      "config: version 3",
      "config: 512-byte clusters",
      "config: 64 KiB clusters",
      "config: extended L2",
      "config: refcounts narrower than 16 bits",
      "config: refcounts wider than 16 bits",
      "config: size not a cluster multiple",
      "config: legacy AES",
      "config: LUKS",
      "range: unaligned",
      "range: in the last tenth of the disk",
      "range: ends at the end of the disk",
      "range: spans two L2 tables",
      "compressed: several clusters",
      "compressed: ends at the end of the disk",
  };
  for (const char* what : kPromised) {
    EXPECT_GT(Reach()[what], 0u) << "never generated: " << what;
  }
  for (const auto& [what, n] : Reach()) {
    std::printf("reach: %-45s %llu\n", what.c_str(),
                static_cast<unsigned long long>(n));
  }
}

}  // namespace
}  // namespace qcow2ref
