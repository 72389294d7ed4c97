// Opening the IMAGE argument of a subcommand with its reference policy and
// secret options.
#ifndef QCOW2REF_TOOLS_QCOW2REF_OPEN_IMAGE_H_
#define QCOW2REF_TOOLS_QCOW2REF_OPEN_IMAGE_H_

#include <memory>
#include <optional>
#include <string>

#include "reference/image/image.h"
#include "tools/qcow2ref/cli.h"

namespace qcow2ref::cli {

// The opened image. The passphrase is used while opening and then dropped
// (the image keeps only the keys it unlocked).
struct OpenedImage {
  std::unique_ptr<Image> image;
};

// `follow` says whether references are followed without
// --follow-references (read: yes; info and map: no).
Result<OpenedImage> OpenImageArg(const Args& args, const std::string& path,
                                 bool follow);

// Option names accepted by OpenImageArg.
std::set<std::string> ImageFlags();

// A parsed `NAME IMAGE [--json]` command line (info, map) and its image,
// opened without following references.
struct JsonImageCommand {
  bool json = false;
  std::string path;
  OpenedImage opened;
};

// Parses and opens; on failure returns nullopt with the exit code (the error
// already reported) in *exit_code. `usage` is the one-line synopsis.
std::optional<JsonImageCommand> OpenJsonImageCommand(int argc, char** argv,
                                                     const std::string& usage,
                                                     int* exit_code);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_OPEN_IMAGE_H_
