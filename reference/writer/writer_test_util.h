// Helpers shared by the writer's tests (testonly): guest data patterns,
// creating an image in memory, reading a whole guest view back with the
// read-only reader, and judging the image a crash left behind
// (QX.WRITE.order_*): it opens, checks without corruption (leaks are
// allowed), and every guest byte is one that some allowed state holds.
// Failures are returned as text, so that both gtest and RapidCheck
// properties can report them.
#ifndef QCOW2REF_REFERENCE_WRITER_WRITER_TEST_UTIL_H_
#define QCOW2REF_REFERENCE_WRITER_WRITER_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "reference/check/checker.h"
#include "reference/image/image.h"
#include "reference/io/byte_store.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref {
namespace writer_test {

// Guest bytes that change every 97 bytes, so a misplaced run shows.
inline std::vector<uint8_t> Pattern(uint64_t n, uint8_t fill) {
  std::vector<uint8_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(fill + i / 97);
  return v;
}

// The bytes of a new image made with `options` on a memory store.
inline Result<std::vector<uint8_t>> CreateImageBytes(
    const CreateOptions& options, const SecretBytes* secret,
    const std::string& directory = ".") {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* raw = store.get();
  WriterOptions wo;
  wo.secret = secret;
  wo.directory = directory;
  auto w = ImageWriter::Create(std::move(store), options, std::move(wo));
  if (!w.ok()) return w.error();
  return raw->bytes();
}

// Fills the geometry of `o` with a valid combination: version 2 or 3,
// 512 B..64 KiB clusters, refcount widths 1..64 bits (v3; 16 in v2),
// extended L2 (v3, clusters of 16 KiB or more). `pick(lo, hi)` returns a
// value in [lo, hi) (a generator's choice, so that property tests shrink).
template <typename Pick>
void PickGeometry(CreateOptions* o, Pick pick) {
  o->version = pick(2u, 4u);
  o->cluster_bits = pick(9u, 17u);
  o->refcount_order = o->version == 3 ? pick(0u, 7u) : 4;
  o->extended_l2 = o->version == 3 && o->cluster_bits >= 14 && pick(0u, 2u);
}

// Encryption for `o` half the time: legacy AES, or LUKS with one of a few
// ciphers at the cheapest PBKDF2 cost. Returns the passphrase ("" for
// none).
template <typename Pick>
std::string PickEncryption(CreateOptions* o, Pick pick) {
  static const char* const kCiphers[] = {"aes-256-xts-plain64",
                                         "aes-128-cbc-essiv:sha256",
                                         "twofish-128-ctr-plain64"};
  switch (pick(0u, 4u)) {
    case 0:
      o->encryption = Encryption::kAes;
      return "secret-aes";
    case 1:
      o->encryption = Encryption::kLuks;
      o->luks_cipher = kCiphers[pick(0u, 3u)];
      o->luks_iterations = 1000;
      return "secret-luks";
    default:
      o->encryption = Encryption::kNone;
      return "";
  }
}

// The largest refcount a width of 2^order bits holds (Q2.RC.width).
inline uint64_t MaxRefcount(uint32_t order) {
  return order >= 6 ? UINT64_MAX : (uint64_t{1} << (1u << order)) - 1;
}

// "" when a and b are equal, else where they first differ.
inline std::string FirstDifference(const std::vector<uint8_t>& got,
                                   const std::vector<uint8_t>& want) {
  if (got.size() != want.size()) {
    return "size " + std::to_string(got.size()) + ", want " +
           std::to_string(want.size());
  }
  if (got == want) return "";
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      return "byte " + std::to_string(i) + " is " + std::to_string(got[i]) +
             ", want " + std::to_string(want[i]);
    }
  }
  return "";
}

// Reads the whole guest view an opened image shows; "" on success, else
// the error.
// A file of the workspace in a test's runfiles (e.g. a vector image).
inline std::vector<uint8_t> ReadRunfile(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string path = std::string(srcdir ? srcdir : ".") + "/" +
                           (ws ? ws : "qcow2ref") + "/" + rel;
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The whole file at `path` as text ("" when it cannot be read).
inline std::string ReadFileText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline std::string ReadGuest(const Image& image, std::vector<uint8_t>* out) {
  out->assign(image.guest_size(), 0);
  Status st = image.Read(0, out->data(), out->size());
  return st.ok() ? "" : st.error().ToString();
}

// "" when the checker finds no corruption (and, unless `allow_leaks`, no
// leak) and could finish; else the first problem.
inline std::string CheckFindings(const std::vector<uint8_t>& bytes,
                                 const SecretBytes* secret, bool allow_leaks) {
  CheckOptions co;
  co.secret = secret;
  auto check = CheckImage(std::make_unique<MemorySource>(bytes), co);
  if (!check.ok()) return "check failed: " + check.error().ToString();
  if (check->report.check_errors) return "check could not finish";
  for (const Finding& f : check->report.findings) {
    if (f.severity == Severity::kCorruption ||
        (!allow_leaks && f.severity == Severity::kLeak)) {
      return std::string(SeverityName(f.severity)) + " " + f.clause + ": " +
             f.message;
    }
  }
  return "";
}

// Judges the bytes left by a crash: the image opens, checks without
// corruption, and every guest byte equals that byte in one of `allowed`
// (the acknowledged state first, then the states the interrupted
// operations could have reached). "" when all holds.
inline std::string JudgeCrashImage(
    const std::vector<uint8_t>& bytes,
    const std::vector<const std::vector<uint8_t>*>& allowed,
    const SecretBytes* secret, const std::string& directory = ".") {
  OpenOptions o;
  o.follow_references = true;
  auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), o, secret,
                               directory);
  if (!img.ok()) return "does not open: " + img.error().ToString();
  std::vector<uint8_t> guest;
  std::string error = ReadGuest(**img, &guest);
  if (!error.empty()) return "read: " + error;
  // Blocks equal to the acknowledged state are skipped whole (memcmp);
  // the others are judged byte by byte.
  const std::vector<uint8_t>& acked = *allowed[0];
  if (acked.size() != guest.size()) {
    return "guest size " + std::to_string(guest.size()) + ", want " +
           std::to_string(acked.size());
  }
  constexpr uint64_t kBlock = 4096;
  for (uint64_t at = 0; at < guest.size(); at += kBlock) {
    const uint64_t n = std::min<uint64_t>(kBlock, guest.size() - at);
    if (std::memcmp(guest.data() + at, acked.data() + at, n) == 0) continue;
    for (uint64_t i = at; i < at + n; ++i) {
      bool ok = false;
      for (const std::vector<uint8_t>* state : allowed) {
        if (i < state->size() && guest[i] == (*state)[i]) ok = true;
      }
      if (!ok) {
        return "acknowledged byte " + std::to_string(i) + " is " +
               std::to_string(guest[i]) + ", want " + std::to_string(acked[i]);
      }
    }
  }
  return CheckFindings(bytes, secret, /*allow_leaks=*/true);
}

}  // namespace writer_test
}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_WRITER_TEST_UTIL_H_
