// Opening an output file (read --output) that must not be one of the
// command's inputs: judged by identity before it is truncated
// (QX.CLI.output_not_input).
#ifndef QCOW2REF_TOOLS_QCOW2REF_OUTPUT_FILE_H_
#define QCOW2REF_TOOLS_QCOW2REF_OUTPUT_FILE_H_

#include <set>
#include <string>

#include "reference/io/file_id.h"
#include "reference/status/status.h"

namespace qcow2ref::cli {

// Creates or opens `path` for writing without truncating it, refuses it
// when its identity is in `inputs`, then empties it if it is a regular file.
// Any type is allowed (a pipe, /dev/null): the user named it.
// Returns the descriptor (the caller closes it).
Result<int> OpenOutputFile(const std::string& path,
                           const std::set<FileId>& inputs);

// Refuses a standard output that is one of `inputs` (`read img 1<>img`).
Status CheckStdoutNotInput(const std::set<FileId>& inputs);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_OUTPUT_FILE_H_
