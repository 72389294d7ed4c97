// ops_fuzzer: the input is an op script. Its first bytes choose the image
// (version 2/3, cluster_bits 9..16, refcount_order 0..6, extended L2 entries
// (Q2.XL2.entry), deflate or zstd (Q2.CMP.deflate, Q2.CMP.zstd), lazy
// refcounts, legacy AES (Q2.ENC.aes.cbc) or LUKS with the minimum PBKDF2
// count, a virtual size of 512 B .. 4 MiB); the rest is a sequence of at most
// kMaxOps operations applied with ImageWriter to an image in a MemoryStore
// and to a model (the guest bytes as a std::vector, plus a copy per
// snapshot):
//
//   write, write zeroes, discard (QX.WRITE.discard), compressed write
//   (Q2.CMP.descriptor), flush, snapshot create / delete / apply
//   (Q2.SNAP.refcounts, QX.WRITE.cow_l2, QX.WRITE.order_snapshot_table),
//   reopen (a new ImageWriter on the bytes so far), verify.
//
// Requests that are invalid by construction (past the virtual size, an
// unaligned or encrypted compressed write (QX.WRITE.no_compressed_encryption),
// a duplicate snapshot name, an unknown snapshot) must fail with a usage error
// and change nothing; a valid request must succeed, except that a snapshot
// create/apply may be refused with Q2.RC.max_references when the refcount
// width cannot hold one more reference (checked before anything is written:
// the image and the model stay unchanged).
//
// After each op the range it touched is read back through the writer; after
// snapshot ops, reopens and verify ops (bounded) the whole disk is, and
// after the first snapshot ops CheckImage judges the image so far. At the end
// the bytes are opened with the read-only reader (Image), whose active view
// and every snapshot view must equal the model, and judged by CheckImage: no
// corruption finding (Q2.RC.covers_references, Q2.MAP.copied, ...), and no
// leak (Q2.RC.no_leaks). Any
// mismatch aborts via FUZZ_CHECK with a description.
//
// OPS_FUZZER_TRACE=1 in the environment prints the decoded options and ops.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/check/checker.h"
#include "reference/crypto/secret.h"
#include "reference/image/image.h"
#include "reference/io/byte_source.h"
#include "reference/io/byte_store.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_options.h"

namespace {

using namespace qcow2ref;

constexpr size_t kMaxOps = 48;
constexpr uint64_t kMaxSectors = (4u << 20) / 512;  // 4 MiB virtual size,
constexpr uint64_t kMaxGuestClusters = 2048;        // and 2048 clusters.
constexpr uint64_t kByteBudget = 16u << 20;  // Guest bytes written per input,
constexpr uint64_t kClusterBudget = 8192;    // and clusters touched.
constexpr int kMaxFullCompares = 6;          // Whole-disk writer reads.
constexpr int kMaxMidChecks = 3;   // CheckImage runs after snapshot ops.
constexpr int kSnapshotNames = 5;  // "s0" .. "s4".

bool Tracing() {
  static const bool on = std::getenv("OPS_FUZZER_TRACE") != nullptr;
  return on;
}

#define TRACE(...)                                    \
  do {                                                \
    if (Tracing()) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)

[[noreturn]] void Die(const std::string& what, int line) {
  qcow2ref::fuzz::CheckFailed(what.c_str(), __FILE__, line);
}
#define DIE(msg) Die(msg, __LINE__)

// The input, read front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool empty() const { return n_ == 0; }
  uint8_t U8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint32_t U16() { return U8() | (uint32_t{U8()} << 8); }
  uint32_t U24() { return U16() | (uint32_t{U8()} << 16); }

 private:
  const uint8_t* p_;
  size_t n_;
};

const SecretBytes* Passphrase() {
  static const SecretBytes* const kSecret =
      new SecretBytes(SecretFromString("ops-fuzzer-pw"));
  return kSecret;
}

// Options bytes:
//   0: bit 0 version 2, bits 1-3 cluster_bits - 9, bits 4-5 encryption
//      (3: AES, 2: LUKS when bit 6 and byte 1 bit 7 are set, else none),
//      bit 7 lazy
//      refcounts
//   1: bits 0-2 refcount_order (7 -> 4), bit 3 extended L2, bit 4 zstd,
//      bits 5-6 LUKS cipher, bit 7 needed for LUKS
//   2-3: bits 0-12 virtual size in sectors - 1, modulo the largest size
//      allowed: 2^(6 + bits 13-15) sectors (32 KiB .. 4 MiB), at most 2048
//      clusters; small disks are as likely as large ones
// Combinations the writer refuses (v2 with v3 features, extended L2 with
// small clusters) are reduced to valid ones, so every input gets an image.
CreateOptions DecodeOptions(Input& in) {
  const uint8_t a = in.U8();
  const uint8_t b = in.U8();
  const uint32_t size_bits = in.U16();
  CreateOptions o;
  o.version = (a & 1) ? 2 : 3;
  o.cluster_bits = 9 + ((a >> 1) & 7);
  const uint64_t max_sectors =
      std::min({kMaxSectors, uint64_t{64} << (size_bits >> 13),
                (kMaxGuestClusters << o.cluster_bits) / 512});
  o.size = ((size_bits & 0x1fff) % max_sectors + 1) * 512;
  o.lazy_refcounts = (a & 0x80) != 0;
  o.refcount_order = b & 7;
  if (o.refcount_order == 7) o.refcount_order = 4;
  o.extended_l2 = (b & 0x08) != 0;
  o.compression_type = (b & 0x10) ? 1 : 0;
  const int enc = (a >> 4) & 3;
  if (enc == 3) {
    o.encryption = Encryption::kAes;
  } else if (enc == 2 && (a & 0x40) && (b & 0x80)) {
    // LUKS costs ~100 ms per input (4000 AF stripes merged at every open),
    // so one option byte pattern in 32.
    o.encryption = Encryption::kLuks;
    static const char* const kCiphers[] = {
        "aes-256-xts-plain64", "aes-128-cbc-essiv:sha256",
        "twofish-128-xts-plain64", "serpent-256-cbc-plain64"};
    o.luks_cipher = kCiphers[(b >> 5) & 3];
    o.luks_hash = "sha256";
    o.luks_iterations = 1;  // Raised to the minimum (1000) by the writer.
    o.deterministic_seed = std::vector<uint8_t>{'o', 'p', 's', a, b};
  }
  if (o.extended_l2 && o.cluster_bits < 14) o.extended_l2 = false;
  if (o.version == 2) {
    o.refcount_order = 4;
    o.extended_l2 = false;
    o.compression_type = 0;
    o.lazy_refcounts = false;
  }
  return o;
}

std::string Describe(const CreateOptions& o) {
  const char* enc = o.encryption == Encryption::kAes    ? "aes"
                    : o.encryption == Encryption::kLuks ? o.luks_cipher.c_str()
                                                        : "none";
  return "v" + std::to_string(o.version) +
         " cluster_bits=" + std::to_string(o.cluster_bits) +
         " refcount_order=" + std::to_string(o.refcount_order) +
         " xl2=" + std::to_string(o.extended_l2) +
         " zstd=" + std::to_string(o.compression_type) +
         " lazy=" + std::to_string(o.lazy_refcounts) + " enc=" + enc +
         " size=" + std::to_string(o.size);
}

// Content of a write, by mode: 0 a constant byte, 1 a pattern that depends
// on the guest offset (a misplaced cluster shows), 2-3 pseudo-random bytes
// (they do not compress, so a compressed write stores them uncompressed).
void Fill(uint8_t* out, uint64_t guest, uint64_t length, int mode,
          uint8_t seed) {
  if (length == 0) return;
  switch (mode) {
    case 0:
      std::memset(out, seed, length);
      break;
    case 1:
      for (uint64_t i = 0; i < length; ++i) {
        const uint64_t g = guest + i;
        out[i] = static_cast<uint8_t>(seed ^ (g >> 9) ^ (g * 0x9d));
      }
      break;
    default: {
      uint32_t x = seed * 0x01000193u + 0x811c9dc5u;
      for (uint64_t i = 0; i < length; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = static_cast<uint8_t>(x >> 7);
      }
    }
  }
}

class Harness {
 public:
  explicit Harness(const CreateOptions& o)
      : options_(o),
        model_(o.size, 0),
        bytes_left_(kByteBudget),
        clusters_left_(kClusterBudget) {}

  bool Create() {
    auto store = std::make_unique<MemoryStore>();
    store_ = store.get();
    WriterOptions wo;
    wo.secret = Passphrase();
    auto w = ImageWriter::Create(std::move(store), options_, std::move(wo));
    if (!w.ok()) {
      DIE("Create(" + Describe(options_) + "): " + w.error().ToString());
    }
    writer_ = std::move(w).value();
    cs_ = uint64_t{1} << options_.cluster_bits;
    FUZZ_CHECK(writer_->size() == model_.size());
    return true;
  }

  void Run(Input& in) {
    for (size_t n = 0; n < kMaxOps && !in.empty(); ++n) {
      const uint8_t op = in.U8();
      switch (op & 15) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
          OpWrite(in, op >> 4);
          break;
        case 5:
        case 6:
          OpZero(in, op >> 4, false);
          break;
        case 7:
          OpZero(in, op >> 4, true);
          break;
        case 8:
        case 9:
          OpCompressed(in, op >> 4);
          break;
        case 10:
          TRACE("flush\n");
          Must(writer_->Flush(), "Flush");
          break;
        case 11:
          OpSnapshotCreate(in);
          break;
        case 12:
          OpSnapshotDelete(in, op >> 4);
          break;
        case 13:
          OpSnapshotApply(in, op >> 4);
          break;
        case 14:
          Reopen();
          break;
        case 15:
          TRACE("verify\n");
          CompareWriterAll("verify op");
          break;
      }
    }
  }

  // The whole image, through the writer, the reader and the checker.
  void Final() {
    TRACE("final\n");
    full_compares_ = 0;
    CompareWriterAll("final");
    Must(writer_->Flush(), "final Flush");
    const std::vector<uint8_t> bytes = store_->bytes();
    CompareReader(bytes);
    CheckBytes(bytes, "final");
  }

 private:
  // A request that must succeed.
  void Must(const Status& s, const std::string& what) {
    if (!s.ok()) DIE(what + " failed: " + s.error().ToString());
  }
  // A request that must be refused as a usage error, changing nothing.
  void MustRefuse(const Status& s, const std::string& what) {
    if (s.ok()) DIE(what + " succeeded but must be refused");
    if (s.error().kind != ErrorKind::kUsage) {
      DIE(what + " refused with a non-usage error: " + s.error().ToString());
    }
    TRACE("  refused: %s\n", s.error().ToString().c_str());
  }
  // Snapshot create/apply: success, or refused because a refcount would
  // overflow its width.
  bool SucceedsOrOverflows(const Status& s, const std::string& what) {
    if (s.ok()) return true;
    if (s.error().kind == ErrorKind::kUnsupported &&
        s.error().clause == "Q2.RC.max_references") {
      TRACE("  refused: %s\n", s.error().ToString().c_str());
      return false;
    }
    DIE(what + " failed: " + s.error().ToString());
  }

  // Offset and length of a guest range. shape bits 0-1: alignment (byte,
  // sector, cluster, subcluster), bits 2-3: length class (tiny, up to a few
  // clusters, up to 256 KiB, up to the whole disk).
  void Range(Input& in, int shape, uint64_t* offset, uint64_t* length) {
    const uint64_t size = model_.size();
    uint64_t align = 1;
    switch (shape & 3) {
      case 1:
        align = 512;
        break;
      case 2:
        align = cs_;
        break;
      case 3:
        align = options_.extended_l2 ? cs_ / 32 : 512;
        break;
    }
    uint64_t off = uint64_t{in.U24()} % size;
    off -= off % align;
    uint64_t max_len = 0;
    switch ((shape >> 2) & 3) {
      case 0:
        max_len = 16;
        break;
      case 1:
        max_len = 4 * cs_;
        break;
      case 2:
        max_len = 256u << 10;
        break;
      case 3:
        max_len = size;
        break;
    }
    uint64_t len = uint64_t{in.U24()} % (max_len + 1);
    if (align > 1) len = (len + align - 1) / align * align;
    len = std::min(len, size - off);
    *offset = off;
    *length = len;
  }

  // Work of an op touching `bytes` guest bytes (0 for zeroes) in `clusters`
  // clusters; false once the input's budget is spent.
  bool Charge(uint64_t bytes, uint64_t clusters) {
    if (bytes > bytes_left_ || clusters > clusters_left_) return false;
    bytes_left_ -= bytes;
    clusters_left_ -= clusters;
    return true;
  }
  uint64_t Clusters(uint64_t length) const { return length / cs_ + 2; }

  void OpWrite(Input& in, int shape) {
    uint64_t off, len;
    Range(in, shape, &off, &len);
    const uint8_t mode_seed = in.U8();
    const int mode = mode_seed & 3;
    const uint8_t seed = mode_seed >> 2;
    // One write in 16 with a nonempty range lies partly past the end.
    const bool past_end = (mode_seed & 0xf0) == 0xf0 && len > 0;
    if (past_end) {
      const uint64_t bad_off = model_.size() - std::min(len, model_.size()) + 1;
      std::vector<uint8_t> data(len);
      TRACE("write %llu+%llu past the end\n", (unsigned long long)bad_off,
            (unsigned long long)len);
      MustRefuse(writer_->Write(bad_off, data.data(), len), "Write past end");
      CompareWriter(bad_off, model_.size() - bad_off, "after refused write");
      return;
    }
    if (!Charge(len, Clusters(len))) return;
    std::vector<uint8_t> data(len);
    Fill(data.data(), off, len, mode, seed);
    TRACE("write %llu+%llu mode=%d seed=%d\n", (unsigned long long)off,
          (unsigned long long)len, mode, seed);
    Must(writer_->Write(off, data.data(), len), "Write");
    std::copy(data.begin(), data.end(), model_.begin() + off);
    CompareWriter(off, len, "after write");
  }

  void OpZero(Input& in, int shape, bool discard) {
    uint64_t off, len;
    Range(in, shape, &off, &len);
    if (!Charge(0, Clusters(len))) return;
    const char* name = discard ? "Discard" : "WriteZeroes";
    TRACE("%s %llu+%llu\n", name, (unsigned long long)off,
          (unsigned long long)len);
    Must(discard ? writer_->Discard(off, len) : writer_->WriteZeroes(off, len),
         name);
    std::fill(model_.begin() + off, model_.begin() + off + len, 0);
    CompareWriter(off, len, std::string("after ") + name);
  }

  void OpCompressed(Input& in, int flags) {
    const uint64_t size = model_.size();
    const uint64_t clusters = (size + cs_ - 1) / cs_;
    const uint64_t first = in.U16() % clusters;
    const uint64_t count = 1 + (flags & 3);
    const uint8_t mode_seed = in.U8();
    const int mode = mode_seed & 3;
    const uint8_t seed = mode_seed >> 2;
    const uint64_t off = first * cs_;
    const uint64_t len = std::min(count * cs_, size - off);
    const bool encrypted = options_.encryption != Encryption::kNone;
    std::vector<uint8_t> data(len);
    Fill(data.data(), off, len, mode, seed);
    if (flags & 4) {
      // Not cluster aligned (or not whole clusters): refused.
      const bool shift_start = (flags & 8) != 0 && off + cs_ / 2 < size;
      const uint64_t bad_off = shift_start ? off + cs_ / 2 : off;
      uint64_t bad_len = shift_start ? std::min(len, size - bad_off) : len - 1;
      if (bad_len == 0) return;  // A one-byte last cluster: nothing to skew.
      TRACE("compressed %llu+%llu unaligned\n", (unsigned long long)bad_off,
            (unsigned long long)bad_len);
      MustRefuse(writer_->WriteCompressed(bad_off, data.data(), bad_len),
                 "unaligned WriteCompressed");
      CompareWriter(off, len, "after refused compressed write");
      return;
    }
    if (!Charge(len, Clusters(len))) return;
    TRACE("compressed %llu+%llu mode=%d seed=%d%s\n", (unsigned long long)off,
          (unsigned long long)len, mode, seed, encrypted ? " (encrypted)" : "");
    const Status s = writer_->WriteCompressed(off, data.data(), len);
    if (encrypted) {
      MustRefuse(s, "WriteCompressed into an encrypted image");
    } else {
      Must(s, "WriteCompressed");
      std::copy(data.begin(), data.begin() + len, model_.begin() + off);
    }
    CompareWriter(off, len, "after compressed write");
  }

  static std::string Name(uint8_t b) {
    return "s" + std::to_string(b % kSnapshotNames);
  }

  // The id of the writer's snapshot `name`, or "" if there is none.
  std::string IdOf(const std::string& name) {
    for (const Snapshot& s : writer_->snapshots()) {
      if (s.name == name) return s.id;
    }
    return "";
  }

  void OpSnapshotCreate(Input& in) {
    const std::string name = Name(in.U8());
    TRACE("snapshot create %s\n", name.c_str());
    const Status s = writer_->SnapshotCreate(name);
    if (snapshots_.count(name)) {
      MustRefuse(s, "SnapshotCreate of an existing name");
    } else if (SucceedsOrOverflows(s, "SnapshotCreate " + name)) {
      snapshots_[name] = model_;
    }
    CheckSnapshotList("after snapshot create");
    CompareWriterAll("after snapshot create");
    MidCheck("after snapshot create");
  }

  void OpSnapshotDelete(Input& in, int flags) {
    const std::string name = Name(in.U8());
    const std::string id = IdOf(name);
    const bool by_id = (flags & 1) && !id.empty();
    const std::string key = by_id ? id : name;
    TRACE("snapshot delete %s\n", key.c_str());
    const Status s = writer_->SnapshotDelete(key);
    if (snapshots_.count(name)) {
      Must(s, "SnapshotDelete " + key);
      snapshots_.erase(name);
    } else {
      MustRefuse(s, "SnapshotDelete of an unknown snapshot");
    }
    CheckSnapshotList("after snapshot delete");
    CompareWriterAll("after snapshot delete");
    MidCheck("after snapshot delete");
  }

  void OpSnapshotApply(Input& in, int flags) {
    const std::string name = Name(in.U8());
    const std::string id = IdOf(name);
    const bool by_id = (flags & 1) && !id.empty();
    const std::string key = by_id ? id : name;
    TRACE("snapshot apply %s\n", key.c_str());
    const Status s = writer_->SnapshotApply(key);
    auto it = snapshots_.find(name);
    if (it == snapshots_.end()) {
      MustRefuse(s, "SnapshotApply of an unknown snapshot");
    } else if (SucceedsOrOverflows(s, "SnapshotApply " + key)) {
      model_ = it->second;
    }
    CheckSnapshotList("after snapshot apply");
    CompareWriterAll("after snapshot apply");
    MidCheck("after snapshot apply");
  }

  void Reopen() {
    TRACE("reopen\n");
    Must(writer_->Flush(), "Flush before reopen");
    std::vector<uint8_t> bytes = store_->bytes();
    writer_.reset();
    auto store = std::make_unique<MemoryStore>(std::move(bytes));
    store_ = store.get();
    WriterOptions wo;
    wo.secret = Passphrase();
    auto w = ImageWriter::Open(std::move(store), std::move(wo));
    if (!w.ok()) DIE("reopen: " + w.error().ToString());
    writer_ = std::move(w).value();
    FUZZ_CHECK(writer_->size() == model_.size());
    CheckSnapshotList("after reopen");
    CompareWriterAll("after reopen");
  }

  void CheckSnapshotList(const std::string& when) {
    std::map<std::string, int> seen;
    for (const Snapshot& s : writer_->snapshots()) ++seen[s.name];
    bool same = seen.size() == snapshots_.size();
    for (const auto& [name, count] : seen) {
      same = same && count == 1 && snapshots_.count(name) == 1;
    }
    if (!same) {
      std::string got, want;
      for (const auto& [name, count] : seen) got += " " + name;
      for (const auto& [name, data] : snapshots_) want += " " + name;
      DIE("snapshot list " + when + ":" + got + " (expected" + want + ")");
    }
  }

  // Reports the first byte where `got` (at guest `offset`) differs from
  // `want`.
  static void Compare(const uint8_t* got, const uint8_t* want, uint64_t offset,
                      uint64_t length, const std::string& what) {
    if (std::memcmp(got, want, length) == 0) return;
    uint64_t i = 0;
    while (got[i] == want[i]) ++i;
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  ": guest byte %llu reads 0x%02x, the model has 0x%02x",
                  static_cast<unsigned long long>(offset + i), got[i], want[i]);
    DIE(what + buf);
  }

  // A buffer for reads, filled with a marker (one allocation per input).
  uint8_t* Scratch(uint64_t length) {
    if (scratch_.size() < length) scratch_.resize(model_.size());
    std::memset(scratch_.data(), 0xa5, length);
    return scratch_.data();
  }

  void CompareWriter(uint64_t offset, uint64_t length,
                     const std::string& when) {
    if (length == 0) return;
    uint8_t* got = Scratch(length);
    Must(writer_->Read(offset, got, length), "writer Read " + when);
    Compare(got, model_.data() + offset, offset, length, "writer read " + when);
  }

  void CompareWriterAll(const std::string& when) {
    if (full_compares_++ >= kMaxFullCompares) return;
    CompareWriter(0, model_.size(), when);
  }

  void CompareView(const Image& img, const std::vector<uint8_t>& want,
                   const std::string& view) {
    if (img.guest_size() != want.size()) {
      DIE("reader: " + view + " has guest size " +
          std::to_string(img.guest_size()) + ", expected " +
          std::to_string(want.size()));
    }
    uint8_t* got = Scratch(want.size());
    Must(img.Read(0, got, want.size()), "reader Read of " + view);
    Compare(got, want.data(), 0, want.size(), "reader, " + view);
  }

  void CompareReader(const std::vector<uint8_t>& bytes) {
    OpenOptions o;
    auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), o,
                                 Passphrase());
    if (!img.ok()) DIE("reader cannot open: " + img.error().ToString());
    Image& image = **img;
    FUZZ_CHECK(options_.encryption == Encryption::kNone || image.can_decrypt());
    CompareView(image, model_, "active view");
    // Maps and reads of every view, with the generic invariants.
    fuzz::ExerciseLimits limits;
    limits.max_read_bytes = 4u << 20;
    limits.max_map_entries = 256;
    limits.max_snapshots = kSnapshotNames;
    fuzz::ExerciseImage(image, limits);
    if (image.snapshots().size() != snapshots_.size()) {
      DIE("reader sees " + std::to_string(image.snapshots().size()) +
          " snapshots, expected " + std::to_string(snapshots_.size()));
    }
    for (const auto& [name, data] : snapshots_) {
      Must(image.SelectSnapshot(name), "reader SelectSnapshot " + name);
      CompareView(image, data, "snapshot " + name);
    }
  }

  // CheckImage on the image as it is now (bounded per input).
  void MidCheck(const std::string& when) {
    if (mid_checks_++ >= kMaxMidChecks) return;
    Must(writer_->Flush(), "Flush " + when);
    CheckBytes(store_->bytes(), when);
  }

  void CheckBytes(const std::vector<uint8_t>& bytes, const std::string& when) {
    CheckOptions co;
    co.secret = Passphrase();
    co.decompress = true;
    auto r = CheckImage(std::make_unique<MemorySource>(bytes), co);
    if (!r.ok()) DIE("CheckImage: " + r.error().ToString());
    const CheckReport& rep = r->report;
    std::string problems;
    int shown = 0;
    for (const Finding& f : rep.findings) {
      const bool bad =
          f.severity == Severity::kCorruption || f.severity == Severity::kLeak;
      if (!bad || ++shown > 8) continue;
      problems += std::string("\n  ") + SeverityName(f.severity) + " " +
                  f.clause + ": " + f.message;
    }
    if (rep.check_errors) problems += "\n  check_errors";
    if (!problems.empty()) {
      DIE("CheckImage(" + Describe(options_) + ") " + when + ":" + problems);
    }
  }

  CreateOptions options_;
  std::vector<uint8_t> model_;
  std::map<std::string, std::vector<uint8_t>> snapshots_;
  std::vector<uint8_t> scratch_;
  std::unique_ptr<ImageWriter> writer_;
  MemoryStore* store_ = nullptr;  // Owned by writer_.
  uint64_t cs_ = 0;
  uint64_t bytes_left_;
  uint64_t clusters_left_;
  int full_compares_ = 0;
  int mid_checks_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const CreateOptions options = DecodeOptions(in);
  TRACE("options: %s\n", Describe(options).c_str());
  Harness h(options);
  h.Create();
  h.Run(in);
  h.Final();
  return 0;
}
