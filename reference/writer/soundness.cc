#include "reference/writer/soundness.h"

#include <memory>

#include "reference/check/checker.h"

namespace qcow2ref {

Status ProveSoundForWriting(const ByteStore& store) {
  CheckOptions options;
  options.decompress = false;  // Compressed streams are data, not layout.
  QCOW2REF_ASSIGN_OR_RETURN(
      CheckResult r,
      CheckImage(std::make_unique<BorrowedSource>(&store), options));
  // SPEC(QX.WRITE.sound_before_write): overlapping or misplaced metadata
  // (an L2 entry naming a table, an unaligned table, data inside the LUKS
  // area, refcounts too low) would make a write overwrite metadata, as
  // QEMU's overlap guard prevents; nothing is written.
  for (const Finding& f : r.report.findings) {
    if (f.severity != Severity::kCorruption) continue;
    return Rejected("QX.WRITE.sound_before_write", f.offset,
                    "the image is unsound (" + f.clause + ": " + f.message +
                        "): nothing was written");
  }
  if (r.report.check_errors) {
    return Rejected("QX.WRITE.sound_before_write", std::nullopt,
                    "the image could not be checked completely: nothing was "
                    "written");
  }
  return OkStatus();
}

}  // namespace qcow2ref
