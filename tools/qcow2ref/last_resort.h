// The last-resort handler of main (QX.CLI.internal): an exception that
// escapes a subcommand becomes the one-line error with exit code 1 instead
// of an abort.
#ifndef QCOW2REF_TOOLS_QCOW2REF_LAST_RESORT_H_
#define QCOW2REF_TOOLS_QCOW2REF_LAST_RESORT_H_

namespace qcow2ref::cli {

// Returns run(argc, argv), or kExitRejected after printing
// "qcow2ref: QX.CLI.internal: internal error: <what>" if it throws.
int RunGuarded(int (*run)(int, char**), int argc, char** argv) noexcept;

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_LAST_RESORT_H_
