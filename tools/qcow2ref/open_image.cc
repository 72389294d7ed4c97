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
  if (secret) {
    opened.secret = std::make_unique<SecretBytes>(std::move(*secret));
    options.secret = opened.secret.get();
  }
  QCOW2REF_ASSIGN_OR_RETURN(opened.image, Image::Open(path, options));
  return opened;
}

}  // namespace qcow2ref::cli
