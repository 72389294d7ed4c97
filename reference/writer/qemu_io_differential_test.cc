// Differential property against QEMU: a generated image configuration
// (version 2 or 3, 512 B..64 KiB clusters, refcount widths 1..64 bits,
// extended L2) and a generated sequence of operations (unaligned writes of
// a byte pattern, unaligned write-zeroes, discards of whole clusters) are
// applied by qemu-io to an image made by `qemu-img create` and by our
// ImageWriter to an image we create with the same options. The expected
// guest bytes come from a model (a byte vector), and each image is read by
// the other implementation: QEMU's image by our reader, ours by
// `qemu-img convert -O raw`; both must equal the model. `qemu-img check`
// must find our image clean, and our checker QEMU's.
//
// QEMU ignores discards of partial clusters (they are advisory), while we
// zero them (QX.WRITE.discard): the generator only discards whole clusters,
// where both read zeros.
//
// Clauses: QX.WRITE.discard, Q2.MAP.zero_flag, Q2.MAP.unallocated,
// Q2.RC.no_leaks.
//
// QEMU processes are slow: at most 15 cases (RC_PARAMS max_success caps it
// lower), with the seed from RC_PARAMS. Skipped, with the reason printed,
// when qemu-io or qemu-img is not on PATH.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "reference/image/image.h"
#include "reference/io/byte_store.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

using writer_test::CheckFindings;
using writer_test::FirstDifference;
using writer_test::ReadGuest;

constexpr int kMaxCases = 15;

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

std::string TempDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t && *t ? t : "/tmp";
}

// Runs a shell command; its output goes to `log`. True on exit status 0.
bool Shell(const std::string& command, const std::string& log) {
  return std::system((command + " >'" + log + "' 2>&1").c_str()) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

enum class Kind { kWrite, kZero, kDiscard };

struct Op {
  Kind kind = Kind::kWrite;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t pattern = 0;
};

struct Case {
  CreateOptions create;
  std::vector<Op> ops;
};

// The qemu-io command for `op`.
std::string QemuIoCommand(const Op& op) {
  std::ostringstream c;
  switch (op.kind) {
    case Kind::kWrite:
      c << "write -P " << int(op.pattern) << " ";
      break;
    case Kind::kZero:
      c << "write -z ";
      break;
    case Kind::kDiscard:
      c << "discard ";
      break;
  }
  c << op.offset << " " << op.length;
  return c.str();
}

std::ostream& operator<<(std::ostream& os, const Case& c) {
  const CreateOptions& o = c.create;
  os << "{size " << o.size << ", v" << o.version << ", cluster_bits "
     << o.cluster_bits << ", refcount_order " << o.refcount_order
     << ", extended_l2 " << o.extended_l2 << "}";
  for (const Op& op : c.ops) os << "\n  " << QemuIoCommand(op);
  return os;
}

rc::Gen<Case> GenCase() {
  return rc::gen::exec([]() {
    Case c;
    CreateOptions& o = c.create;
    writer_test::PickGeometry(
        &o, [](uint32_t lo, uint32_t hi) { return *rc::gen::inRange(lo, hi); });
    const uint64_t cs = uint64_t{1} << o.cluster_bits;
    // Whole clusters, so that every discard can cover whole clusters.
    o.size = cs * ((1 << 20) / cs) * *rc::gen::inRange<uint64_t>(1, 3);
    const uint64_t clusters = o.size / cs;
    const int count = *rc::gen::inRange(1, 9);
    for (int i = 0; i < count; ++i) {
      Op op;
      op.kind = *rc::gen::element(Kind::kWrite, Kind::kWrite, Kind::kZero,
                                  Kind::kDiscard);
      if (op.kind == Kind::kDiscard) {
        op.offset = cs * *rc::gen::inRange<uint64_t>(0, clusters);
        op.length =
            cs * *rc::gen::inRange<uint64_t>(
                     1, std::min<uint64_t>(4, clusters - op.offset / cs) + 1);
      } else {
        op.offset = *rc::gen::inRange<uint64_t>(0, o.size);
        op.length = *rc::gen::inRange<uint64_t>(
            1, std::min(o.size - op.offset, 3 * cs + 500) + 1);
        op.pattern = *rc::gen::inRange(1, 256);
      }
      c.ops.push_back(op);
    }
    return c;
  });
}

void Differential() {
  static int case_number = 0;
  const Case c = *GenCase();
  const CreateOptions& o = c.create;
  const std::string base =
      TempDir() + "/qemu_diff_" + std::to_string(case_number++);
  const std::string qemu_image = base + "_qemu.qcow2";
  const std::string our_image = base + "_ours.qcow2";
  const std::string log = base + ".log";

  // The model.
  std::vector<uint8_t> model(o.size, 0);
  for (const Op& op : c.ops) {
    std::memset(model.data() + op.offset,
                op.kind == Kind::kWrite ? op.pattern : 0, op.length);
  }

  // QEMU.
  std::ostringstream create;
  create << "qemu-img create -f qcow2 -o compat="
         << (o.version == 2 ? "0.10" : "1.1")
         << ",cluster_size=" << (uint64_t{1} << o.cluster_bits)
         << ",refcount_bits=" << (1u << o.refcount_order)
         << ",extended_l2=" << (o.extended_l2 ? "on" : "off") << " '"
         << qemu_image << "' " << o.size;
  if (!Shell(create.str(), log)) RC_FAIL("qemu-img create: " + ReadFile(log));
  std::string io = "qemu-io -f qcow2";
  for (const Op& op : c.ops) io += " -c '" + QemuIoCommand(op) + "'";
  if (!Shell(io + " '" + qemu_image + "'", log)) {
    RC_FAIL("qemu-io: " + ReadFile(log));
  }

  // Ours.
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* raw = store.get();
  auto w = ImageWriter::Create(std::move(store), o, WriterOptions());
  if (!w.ok()) RC_FAIL("create: " + w.error().ToString());
  for (const Op& op : c.ops) {
    Status st;
    if (op.kind == Kind::kWrite) {
      const std::vector<uint8_t> data(op.length, op.pattern);
      st = (*w)->Write(op.offset, data.data(), op.length);
    } else if (op.kind == Kind::kZero) {
      st = (*w)->WriteZeroes(op.offset, op.length);
    } else {
      st = (*w)->Discard(op.offset, op.length);
    }
    if (!st.ok()) RC_FAIL(QemuIoCommand(op) + ": " + st.error().ToString());
  }
  RC_ASSERT((*w)->Flush().ok());
  const std::vector<uint8_t> ours = raw->bytes();
  std::ofstream(our_image, std::ios::binary)
      .write(reinterpret_cast<const char*>(ours.data()),
             static_cast<std::streamsize>(ours.size()));

  // QEMU's image through our reader and checker.
  auto img = Image::Open(qemu_image, OpenOptions());
  if (!img.ok())
    RC_FAIL("our reader on QEMU's image: " + img.error().ToString());
  std::vector<uint8_t> guest;
  std::string error = ReadGuest(**img, &guest);
  if (error.empty()) error = FirstDifference(guest, model);
  if (!error.empty()) RC_FAIL("QEMU's image, read by us: " + error);
  const std::string qemu_bytes = ReadFile(qemu_image);
  error =
      CheckFindings(std::vector<uint8_t>(qemu_bytes.begin(), qemu_bytes.end()),
                    nullptr, /*allow_leaks=*/false);
  if (!error.empty()) RC_FAIL("our checker on QEMU's image: " + error);

  // Our image through qemu-img.
  if (!Shell("qemu-img check -f qcow2 '" + our_image + "'", log)) {
    RC_FAIL("qemu-img check of our image: " + ReadFile(log));
  }
  const std::string our_raw = base + "_ours.raw";
  if (!Shell("qemu-img convert -f qcow2 -O raw '" + our_image + "' '" +
                 our_raw + "'",
             log)) {
    RC_FAIL("qemu-img convert: " + ReadFile(log));
  }
  const std::string converted = ReadFile(our_raw);
  error = FirstDifference(
      std::vector<uint8_t>(converted.begin(), converted.end()), model);
  if (!error.empty()) RC_FAIL("our image, read by qemu-img: " + error);
  for (const std::string& f : {qemu_image, our_image, our_raw, log}) {
    std::remove(f.c_str());
  }
}

TEST(QemuIoDifferential, SameGuestBytesAsQemu) {
  QCOW2_SPEC("QX.WRITE.discard");
  QCOW2_SPEC("Q2.MAP.zero_flag");
  QCOW2_SPEC("Q2.MAP.unallocated");
  QCOW2_SPEC("Q2.RC.no_leaks");
  for (const char* tool : {"qemu-img", "qemu-io"}) {
    if (!OnPath(tool)) {
      // A missing judge is a failure, not a pass: tools/setup.sh installs it.
      FAIL() << tool << " is not on PATH: the differential test against "
             << "QEMU cannot run (bash tools/setup.sh installs qemu-utils)";
    }
  }
  // RC_PARAMS' seed, but no more than kMaxCases cases.
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = std::min(params.maxSuccess, kMaxCases);
  rc::detail::TestMetadata metadata;
  metadata.id = "QemuIoDifferential/SameGuestBytesAsQemu";
  metadata.description = "SameGuestBytesAsQemu";
  const auto result = rc::detail::checkProperty(
      rc::detail::toProperty(&Differential), metadata, params);
  if (!result.is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str();
  }
}

}  // namespace
}  // namespace qcow2ref
