// Runs the checker over every image vector: y_ images (made by qemu-img or
// derived without fault) must check clean; an n_ image must produce a finding
// (or an open error) naming its primary clause and no corruption naming another
// (leaks of what a damaged pointer used to reach are expected), unless that
// clause is about following references, which `check` never does
// (QX.BK.no_follow). Stage "check" vectors give the finding's severity.
#include <gtest/gtest.h>

#include <algorithm>

#include "conformance/vector_manifest.h"
#include "reference/check/checker.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref::conformance {
namespace {

bool NeedsReferences(const std::string& clause) {
  // Clauses about following references (QX.BK.*), by prefix.
  return clause.rfind(std::string("QX") + ".BK.", 0) == 0 ||
         clause == "Q2.XDF.name_required";
}

class ReferenceCheckTest : public ::testing::TestWithParam<ImageVector> {};

TEST_P(ReferenceCheckTest, Verdict) {
  const ImageVector& v = GetParam();
  std::unique_ptr<SecretBytes> secret;
  if (!v.passphrases.empty()) {
    secret = std::make_unique<SecretBytes>(SecretFromString(v.passphrases[0]));
  }
  auto file = FileSource::Open(v.image);
  ASSERT_TRUE(file.ok());
  CheckOptions options;
  options.secret = secret.get();
  auto result = CheckImage(std::move(file).value(), options);
  if (v.verdict == "valid") {
    ASSERT_TRUE(result.ok()) << v.id << ": " << result.error().ToString();
    for (const Finding& f : result->report.findings) {
      // A warning is expected only where the vector names its clause (e.g.
      // a harmless oddity a valid image carries on purpose).
      // Every legacy AES image carries the no-key-check warning.
      const bool aes_note = f.clause == "QX.ENC.aes.no_key_check";
      const bool intended =
          f.severity == Severity::kWarning &&
          (aes_note || std::find(v.clauses.begin(), v.clauses.end(),
                                 f.clause) != v.clauses.end());
      if (!intended) {
        ADD_FAILURE() << v.id << ": " << SeverityName(f.severity) << " "
                      << f.clause << ": " << f.message;
      }
    }
    EXPECT_TRUE(result->report.clean()) << v.id;
    return;
  }
  if (v.verdict != "invalid" || NeedsReferences(v.clauses.at(0))) return;
  const std::string& want = v.clauses.at(0);
  QCOW2_SPEC(want.c_str());
  if (!result.ok()) {
    EXPECT_EQ(result.error().clause, want) << v.id;
    return;
  }
  // Stage "check" vectors say which severity the finding has; every other
  // n_ vector's fault is an error. No other clause may report corruption:
  // each vector isolates one fault.
  const bool want_warning = v.finding == "warning";
  bool found = false;
  for (const Finding& f : result->report.findings) {
    if (f.clause == want) {
      found |= (f.severity == Severity::kWarning) == want_warning;
    } else if (f.severity == Severity::kCorruption) {
      ADD_FAILURE() << v.id << ": unexpected " << SeverityName(f.severity)
                    << " " << f.clause << ": " << f.message;
    }
  }
  EXPECT_TRUE(found) << v.id << ": no " << (want_warning ? "warning" : "error")
                     << " names " << want;
}

INSTANTIATE_TEST_SUITE_P(Vectors, ReferenceCheckTest,
                         ::testing::ValuesIn(LoadImageVectors()),
                         [](const ::testing::TestParamInfo<ImageVector>& i) {
                           return i.param.id;
                         });

}  // namespace
}  // namespace qcow2ref::conformance
