// Runs the reference library over every image vector, by the reader plan
// (conformance/vector_manifest.h): what a reader must do with each vector is
// the conformance scorer's rule (conformance/runner/qct_score.py), stated
// there once; this suite only carries it out with the library. A valid
// vector's reads must all return exactly the planned bytes; any other vector
// must be refused naming one of the planned tokens (and the reader must
// refuse when the plan requires it) or read to one of the planned contents.
// The map of valid vectors is judged by the scorer through the CLI
// (//conformance:reference_adapter_test).
#include <cryptopp/filters.h>
#include <cryptopp/hex.h>
#include <cryptopp/sha.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "conformance/vector_manifest.h"
#include "reference/image/image.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref::conformance {
namespace {

// What a read returned: its length and SHA-256 (lower-case hex).
struct Digest {
  uint64_t size = 0;
  std::string sha256;
};

// Opens the image (following references), selects `snapshot` (unless empty)
// and hashes [offset, offset + length), or the whole view, 16 MiB at a time.
Result<Digest> HashRead(const std::string& path, const std::string& snapshot,
                        std::optional<uint64_t> offset,
                        std::optional<uint64_t> length,
                        const SecretBytes* secret) {
  OpenOptions options;
  options.follow_references = true;
  QCOW2REF_ASSIGN_OR_RETURN(auto img, Image::Open(path, options, secret));
  if (!snapshot.empty()) {
    QCOW2REF_RETURN_IF_ERROR(img->SelectSnapshot(snapshot));
  }
  const uint64_t start = offset.value_or(0);
  const uint64_t size = length.value_or(img->guest_size());
  CryptoPP::SHA256 h;
  std::vector<uint8_t> buf(std::min<uint64_t>(size, 16ull << 20));
  for (uint64_t done = 0; done < size;) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    QCOW2REF_RETURN_IF_ERROR(img->Read(start + done, buf.data(), n));
    h.Update(buf.data(), n);
    done += n;
  }
  std::string digest(h.DigestSize(), '\0');
  h.Final(reinterpret_cast<uint8_t*>(digest.data()));
  Digest out;
  out.size = size;
  CryptoPP::StringSource s(
      digest, true,
      new CryptoPP::HexEncoder(new CryptoPP::StringSink(out.sha256), false));
  return out;
}

// Reads the active view and then every snapshot's view; the first error,
// else the active view's digest.
Result<Digest> ReadEveryView(const std::string& path,
                             const SecretBytes* secret) {
  QCOW2REF_ASSIGN_OR_RETURN(
      Digest active, HashRead(path, "", std::nullopt, std::nullopt, secret));
  OpenOptions options;
  options.follow_references = true;
  QCOW2REF_ASSIGN_OR_RETURN(auto img, Image::Open(path, options, secret));
  for (const Snapshot& s : img->snapshots()) {
    auto view = HashRead(path, s.id, std::nullopt, std::nullopt, secret);
    if (!view.ok()) return view.take_error();
  }
  return active;
}

class ReferenceVectorsTest : public ::testing::TestWithParam<ImageVector> {};

TEST_P(ReferenceVectorsTest, ReadsAsPlanned) {
  ImageVector v = GetParam();
  for (const std::string& c : v.clauses) QCOW2_SPEC(c.c_str());
  v.image =
      StageVector(v, std::string(std::getenv("TEST_TMPDIR")) + "/" + v.id);
  std::vector<SecretBytes> secrets;
  for (const std::string& p : v.passphrases) {
    secrets.push_back(SecretFromString(p));
  }
  auto secret = [&](size_t i) -> const SecretBytes* {
    return secrets.empty() ? nullptr : &secrets.at(i);
  };
  if (v.verdict == "valid") {
    ASSERT_FALSE(v.reads.empty()) << v.id << ": the plan gives no read";
    for (const ExpectedRead& r : v.reads) {
      auto got = HashRead(v.image, r.snapshot, r.offset, r.length,
                          secret(r.passphrase));
      ASSERT_TRUE(got.ok())
          << v.id << " " << r.what << ": " << got.error().ToString();
      EXPECT_EQ(got->size, r.size) << v.id << " " << r.what;
      EXPECT_EQ(got->sha256, r.sha256) << v.id << " " << r.what;
    }
    return;
  }
  auto got = ReadEveryView(v.image, secret(0));
  if (!got.ok()) {
    const std::string& clause = got.error().clause;
    const bool planned =
        std::find(v.refusal_tokens.begin(), v.refusal_tokens.end(), clause) !=
        v.refusal_tokens.end();
    EXPECT_TRUE(planned) << v.id << ": refused naming an unplanned clause: "
                         << got.error().ToString();
    // Properties of this reader, stricter than the plan: it names an n_
    // vector's primary clause, and it reads what only a checker reports.
    if (v.verdict == "invalid") {
      EXPECT_EQ(clause, v.clauses.at(0))
          << v.id
          << ": rejected for another reason: " << got.error().ToString();
    }
    EXPECT_NE(v.stage, "check")
        << v.id << ": the fault needs a checker, the reader refused it: "
        << got.error().ToString();
    return;
  }
  ASSERT_FALSE(v.refusal_required) << v.id << ": accepted an invalid image";
  bool matched = false;
  for (const Reading& r : v.accepted) {
    matched |=
        r.sha256.empty() || (r.size == got->size && r.sha256 == got->sha256);
  }
  EXPECT_TRUE(matched) << v.id << ": accepted, but read " << got->size
                       << " bytes (sha256 " << got->sha256
                       << ") matching no planned content";
}

std::string TestName(const ::testing::TestParamInfo<ImageVector>& info) {
  return info.param.id;
}

INSTANTIATE_TEST_SUITE_P(Vectors, ReferenceVectorsTest,
                         ::testing::ValuesIn(LoadImageVectors()), TestName);

TEST(ReferenceVectorsMetaTest, PlanCoversTheManifests) {
  // Guards against a suite that silently runs zero vectors.
  EXPECT_GE(LoadImageVectors().size(), 60u);
}

}  // namespace
}  // namespace qcow2ref::conformance
