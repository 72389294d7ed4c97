#include "tools/qcow2ref/open_image.h"

namespace qcow2ref::cli {

std::set<std::string> ImageFlags() {
  return {"--follow-references", "--allow-any-path"};
}

Result<OpenedImage> OpenImageArg(const Args& args, const std::string& path,
                                 bool follow) {
  OpenedImage opened;
  QCOW2REF_ASSIGN_OR_RETURN(std::optional<SecretBytes> secret,
                            LoadSecret(args));
  OpenOptions options;
  options.follow_references = follow || args.Has("--follow-references");
  options.allow_any_path = args.Has("--allow-any-path");
  QCOW2REF_ASSIGN_OR_RETURN(
      opened.image, Image::Open(path, options, secret ? &*secret : nullptr));
  return opened;
}

std::optional<JsonImageCommand> OpenJsonImageCommand(int argc, char** argv,
                                                     const std::string& usage,
                                                     int* exit_code) {
  std::set<std::string> flags = ImageFlags();
  flags.insert("--json");
  auto args = ParseArgs(argc, argv, 2, flags, kSecretOptions);
  if (!args.ok()) {
    *exit_code = ReportError(args.error());
    return std::nullopt;
  }
  if (args->positional.size() != 1) {
    *exit_code = UsageFailure(usage);
    return std::nullopt;
  }
  JsonImageCommand cmd;
  cmd.json = args->Has("--json");
  cmd.path = args->positional[0];
  auto opened = OpenImageArg(*args, cmd.path, false);
  if (!opened.ok()) {
    *exit_code = ReportError(opened.error());
    return std::nullopt;
  }
  cmd.opened = std::move(opened).value();
  return cmd;
}

}  // namespace qcow2ref::cli
