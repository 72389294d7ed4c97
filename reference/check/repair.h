// Leak repair: lowers refcounts that exceed their references. Only leaks are
// repaired; anything else is refused.
#ifndef QCOW2REF_REFERENCE_CHECK_REPAIR_H_
#define QCOW2REF_REFERENCE_CHECK_REPAIR_H_

#include <string>

#include "reference/check/findings.h"
#include "reference/status/status.h"

namespace qcow2ref {

// Rewrites the refcount entries of `report.leaks` in the file at `path`
// (which `report` was computed from), one refcount block at a time, then
// flushes. Refused when the report has corruptions or check errors, since
// recomputed counts are then not trustworthy (QX.CHECK.repair_leaks_only).
// Returns the number of clusters repaired.
Result<uint64_t> RepairLeaks(const std::string& path,
                             const CheckReport& report);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CHECK_REPAIR_H_
