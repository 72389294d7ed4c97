// Loading the image-vector manifests (vectors/qcow2_<area>_test.json) into
// plain structs for the suites in this package.
#ifndef QCOW2REF_CONFORMANCE_VECTOR_MANIFEST_H_
#define QCOW2REF_CONFORMANCE_VECTOR_MANIFEST_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace qcow2ref::conformance {

struct ImageVector {
  std::string id;
  std::string verdict;             // valid | invalid | acceptable
  std::string image;               // Path relative to the workspace root.
  std::vector<std::string> chain;  // Files the image refers to (same root).
  std::vector<std::string> clauses;
  std::vector<std::string> features;
  // Passphrases (raw bytes) from "secrets": the main one first, then any
  // other key slots' ones. Empty for unencrypted vectors.
  std::vector<std::string> passphrases;
  nlohmann::json expect;
  std::string manifest;
};

// gtest prints a vector by its id.
inline void PrintTo(const ImageVector& v, std::ostream* os) { *os << v.id; }

// Reads every vectors/qcow2_*_test.json below `root` (the workspace root).
std::vector<ImageVector> LoadImageVectors(const std::string& root);

// Copies the image and its chain files, flat, into `dir` (created), the way
// the conformance runner hands vectors to an implementation; returns the
// image's new path.
std::string StageVector(const ImageVector& v, const std::string& dir);

// SHA-256 of a byte buffer, lower-case hex (Crypto++).
std::string Sha256Hex(const uint8_t* data, size_t size);

}  // namespace qcow2ref::conformance

#endif  // QCOW2REF_CONFORMANCE_VECTOR_MANIFEST_H_
