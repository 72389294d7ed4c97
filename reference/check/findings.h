// What `check` reports: findings with a severity and the clause they break,
// and the summary counts in qemu-img check's vocabulary.
#ifndef QCOW2REF_REFERENCE_CHECK_FINDINGS_H_
#define QCOW2REF_REFERENCE_CHECK_FINDINGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qcow2ref {

enum class Severity {
  kCorruption,  // Metadata breaks a MUST: data may be lost or misread.
  kLeak,        // A cluster is refcounted but unused (repairable).
  kWarning,     // A SHOULD, or an oddity that QEMU tolerates.
};

const char* SeverityName(Severity s);

struct Finding {
  Severity severity = Severity::kCorruption;
  std::string clause;
  std::optional<uint64_t> offset;
  std::string message;
};

struct CheckReport {
  // The first kMaxFindingsPerClause findings of each clause, in the order
  // found (QX.LIMIT.check_findings); `omitted` counts the rest exactly.
  std::vector<Finding> findings;
  std::map<std::pair<std::string, Severity>, uint64_t> omitted;
  std::map<std::string, uint64_t, std::less<>> kept_per_clause;
  // True when the check could not finish (the image could not be opened or
  // a table could not be read); findings are then incomplete.
  bool check_errors = false;
  uint64_t image_end_offset = 0;
  uint64_t total_clusters = 0;      // Guest clusters of the active view.
  uint64_t allocated_clusters = 0;  // Guest clusters with data or zero+host.
  uint64_t compressed_clusters = 0;
  // Host clusters whose stored refcount exceeds their references, with the
  // correct count (used by leak repair).
  struct Leak {
    uint64_t cluster_index;
    uint64_t stored;
    uint64_t computed;
  };
  std::vector<Leak> leaks;
  // L1/L2 entries whose COPIED bit disagrees with a right refcount, with the
  // value it should have (used by the full repair).
  struct CopiedFix {
    uint64_t entry_offset;
    bool copied;
  };
  std::vector<CopiedFix> copied_fixes;

  // Keeps `f` or counts it in `omitted`.
  void Add(Finding f);
  // True when a further finding of `clause` would only be counted: a caller
  // may then count it with Omit and not build its message.
  bool Full(std::string_view clause) const;
  void Omit(const std::string& clause, Severity s) { ++omitted[{clause, s}]; }
  // Exact counts: kept plus omitted.
  uint64_t Count(Severity s) const;
  uint64_t CountClause(const std::string& clause) const;
  bool clean() const {
    return !check_errors && Count(Severity::kCorruption) == 0 &&
           Count(Severity::kLeak) == 0;
  }
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CHECK_FINDINGS_H_
