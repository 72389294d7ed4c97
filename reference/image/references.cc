#include "reference/image/references.h"

#include <sys/stat.h>

namespace qcow2ref {

bool IsContainedRelativePath(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  int depth = 0;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return true;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<std::unique_ptr<ByteSource>> OpenReferencedFile(
    const std::string& directory, const std::string& name, bool allow_any_path,
    const char* what, uint64_t at) {
  // SPEC(QX.BK.path_policy)
  if (!allow_any_path && !IsContainedRelativePath(name)) {
    return Rejected("QX.BK.path_policy", at,
                    std::string(what) + " name '" + name +
                        "' is absolute or leaves the image's directory "
                        "(use --allow-any-path to allow it)");
  }
  if (name.find('\0') != std::string::npos) {
    return Rejected("QX.BK.path_policy", at,
                    std::string(what) + " name contains a NUL byte");
  }
  const std::string path =
      (!name.empty() && name[0] == '/') ? name : directory + "/" + name;
  auto file = FileSource::Open(path);
  if (!file.ok()) {
    Error e = file.take_error();
    e.message = std::string("cannot open ") + what + ": " + e.message;
    return e;
  }
  return std::unique_ptr<ByteSource>(std::move(file).value());
}

Status RegisterInChain(ChainState* chain, const std::string& path,
                       uint64_t at) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return OkStatus();  // Memory source.
  const auto id = std::make_pair(static_cast<uint64_t>(st.st_dev),
                                 static_cast<uint64_t>(st.st_ino));
  // SPEC(QX.BK.loop)
  if (!chain->open_files.insert(id).second) {
    return Rejected("QX.BK.loop", at,
                    "backing chain refers back to " + path + " (a loop)");
  }
  return OkStatus();
}

}  // namespace qcow2ref
