#include "reference/check/findings.h"

#include "reference/format/limits.h"

namespace qcow2ref {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kCorruption:
      return "corruption";
    case Severity::kLeak:
      return "leak";
    case Severity::kWarning:
      return "warning";
  }
  return "?";
}

void CheckReport::Add(Finding f) {
  // SPEC(QX.LIMIT.check_findings): memory stays bounded whatever the image.
  uint64_t& kept = kept_per_clause[f.clause];
  if (kept >= kMaxFindingsPerClause) {
    ++omitted[{f.clause, f.severity}];
    return;
  }
  ++kept;
  findings.push_back(std::move(f));
}

bool CheckReport::Full(std::string_view clause) const {
  auto it = kept_per_clause.find(clause);
  return it != kept_per_clause.end() && it->second >= kMaxFindingsPerClause;
}

uint64_t CheckReport::Count(Severity s) const {
  uint64_t n = 0;
  for (const Finding& f : findings) n += f.severity == s ? 1 : 0;
  for (const auto& [key, count] : omitted) n += key.second == s ? count : 0;
  return n;
}

uint64_t CheckReport::CountClause(const std::string& clause) const {
  uint64_t n = 0;
  for (const Finding& f : findings) n += f.clause == clause ? 1 : 0;
  for (const auto& [key, count] : omitted) n += key.first == clause ? count : 0;
  return n;
}

}  // namespace qcow2ref
