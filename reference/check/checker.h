// `check`: validates an image against every checkable clause, recomputing
// refcounts from the metadata and comparing them with the stored ones.
// Cost is linear in the metadata size: each distinct L1/L2 table is read
// once however often it is referenced.
#ifndef QCOW2REF_REFERENCE_CHECK_CHECKER_H_
#define QCOW2REF_REFERENCE_CHECK_CHECKER_H_

#include <memory>
#include <string>

#include "reference/check/cluster_usage.h"
#include "reference/check/findings.h"
#include "reference/crypto/secret.h"
#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct CheckOptions {
  // With a secret, a LUKS image must unlock (L1.MKD.verify).
  const SecretBytes* secret = nullptr;
  // Decompress every compressed cluster (Q2.CMP.exact_cluster).
  bool decompress = true;
  // The image's directory: when set, the external data file's name is
  // resolved there and stat'ed (never opened) to see whether it is the image
  // itself (QX.BK.same_file).
  std::string directory;
};

struct CheckResult {
  CheckReport report;
  // The cluster map (for `layout`); null when the image could not be opened.
  std::unique_ptr<ClusterUsage> usage;
};

// Never fails for a malformed image: problems become findings. An error is
// returned only when the file cannot be read at all.
Result<CheckResult> CheckImage(std::unique_ptr<ByteSource> file,
                               const CheckOptions& options);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CHECK_CHECKER_H_
