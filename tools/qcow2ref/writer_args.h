// Command-line options shared by the writing subcommands: create options,
// and opening an existing image for writing.
#ifndef QCOW2REF_TOOLS_QCOW2REF_WRITER_ARGS_H_
#define QCOW2REF_TOOLS_QCOW2REF_WRITER_ARGS_H_

#include <memory>
#include <set>
#include <string>

#include "reference/writer/image_writer.h"
#include "tools/qcow2ref/cli.h"

namespace qcow2ref::cli {

// Flags and options of `create` (also taken by `convert`).
std::set<std::string> CreateFlags();
std::set<std::string> CreateOptionNames();

// Builds CreateOptions from the arguments; `size` may be 0 when the caller
// fills it in (convert).
Result<CreateOptions> ParseCreateOptions(const Args& args);

// Creates IMAGE (and its data file) and returns a writer on it. `secret`
// must outlive the writer. `inputs`: the files the command reads, which no
// output may be (QX.CLI.output_not_input).
Result<std::unique_ptr<ImageWriter>> CreateImage(
    const std::string& path, const CreateOptions& options,
    const SecretBytes* secret, bool force, const std::set<FileId>& inputs);

// Opens IMAGE (and its external data file) for writing.
Result<std::unique_ptr<ImageWriter>> OpenImageForWriting(
    const std::string& path, const SecretBytes* secret, bool allow_any_path);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_WRITER_ARGS_H_
