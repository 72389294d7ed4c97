#include "reference/check/findings.h"

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

int CheckReport::Count(Severity s) const {
  int n = 0;
  for (const Finding& f : findings) n += f.severity == s ? 1 : 0;
  return n;
}

}  // namespace qcow2ref
