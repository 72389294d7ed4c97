// The image vectors as the C++ suites in this package see them: read from the
// reader plan that the conformance runner's scorer writes (`run.py
// reader-plan`, the //conformance:reader_plan genrule), so that what a reader
// must do with each vector is stated once, in conformance/runner/qct_score.py.
#ifndef QCOW2REF_CONFORMANCE_VECTOR_MANIFEST_H_
#define QCOW2REF_CONFORMANCE_VECTOR_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace qcow2ref::conformance {

// One read a valid vector requires: exactly `size` bytes hashing to `sha256`.
struct ExpectedRead {
  std::string what;                // How a failure names it.
  std::optional<uint64_t> offset;  // A slice, or the whole view.
  std::optional<uint64_t> length;
  std::string snapshot;   // A snapshot's view, or "" for the active one.
  size_t passphrase = 0;  // Index into `passphrases` (when it has any).
  uint64_t size = 0;
  std::string sha256;
};

// A content an accepted read may return; an empty sha256 allows any.
struct Reading {
  std::string name;
  uint64_t size = 0;
  std::string sha256;
};

struct ImageVector {
  std::string id;
  std::string verdict;             // valid | invalid | acceptable
  std::string stage;               // open | access | check (invalid only)
  std::string image;               // Path relative to the workspace root.
  std::vector<std::string> chain;  // Files the image refers to (same root).
  std::vector<std::string> clauses;
  // Passphrases (raw bytes): the main one first, then any other key slots'
  // ones. Empty for unencrypted vectors.
  std::vector<std::string> passphrases;
  std::string finding;  // Stage check: the severity a checker reports.
  std::string manifest;
  // Valid vectors: the reads that must succeed.
  std::vector<ExpectedRead> reads;
  // Invalid and acceptable vectors: must a read be refused (else it may
  // be), what a refusal may name, and what an accepted read may return.
  bool refusal_required = false;
  std::vector<std::string> refusal_tokens;
  std::vector<Reading> accepted;
};

// gtest prints a vector by its id.
inline void PrintTo(const ImageVector& v, std::ostream* os) { *os << v.id; }

// Reads the reader plan at `path` (conformance/reader_plan.json in the
// runfiles).
std::vector<ImageVector> LoadImageVectors(
    const std::string& path = "conformance/reader_plan.json");

// Copies the image and its chain files, flat, into `dir` (created), the way
// the conformance runner hands vectors to an implementation; returns the
// image's new path.
std::string StageVector(const ImageVector& v, const std::string& dir);

// SHA-256 of a byte buffer, lower-case hex (Crypto++).
std::string Sha256Hex(const uint8_t* data, size_t size);

}  // namespace qcow2ref::conformance

#endif  // QCOW2REF_CONFORMANCE_VECTOR_MANIFEST_H_
