#include "reference/image/references.h"

namespace qcow2ref {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<std::unique_ptr<ByteSource>> OpenReferencedFile(
    const std::string& directory, const std::string& name, bool allow_any_path,
    const char* what, uint64_t at) {
  ReferenceRequest request;
  request.directory = directory;
  request.name = name;
  request.allow_any_path = allow_any_path;
  request.what = what;
  request.at = at;
  QCOW2REF_ASSIGN_OR_RETURN(auto file, OpenReferencedSource(request));
  return std::unique_ptr<ByteSource>(std::move(file));
}

Status RegisterImage(ChainState* chain, const ByteSource& file, uint64_t at) {
  const std::optional<FileId> id = file.Identity();
  if (!id) return OkStatus();
  // SPEC(QX.BK.same_file)
  if (chain->data_files.count(*id) > 0) {
    return Rejected("QX.BK.same_file", at,
                    "backing file " + file.Name() +
                        " is the external data file of an image of the "
                        "chain (the same file)");
  }
  // SPEC(QX.BK.loop)
  if (!chain->images.insert(*id).second) {
    return Rejected(
        "QX.BK.loop", at,
        "backing chain refers back to " + file.Name() + " (a loop)");
  }
  return OkStatus();
}

Status RegisterDataFile(ChainState* chain, const ByteSource& file,
                        uint64_t at) {
  const std::optional<FileId> id = file.Identity();
  if (!id) return OkStatus();
  // SPEC(QX.BK.same_file): writing guest data there would overwrite the
  // metadata of an image (or another image's data).
  if (chain->images.count(*id) > 0 || !chain->data_files.insert(*id).second) {
    return Rejected("QX.BK.same_file", at,
                    "external data file " + file.Name() +
                        " is the image itself or another file of its "
                        "chain (the same file)");
  }
  return OkStatus();
}

}  // namespace qcow2ref
