#include "reference/io/referenced_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reference/io/beneath.h"

namespace qcow2ref {
namespace {

constexpr int kCommonFlags = O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

Error OpenFailure(const ReferenceRequest& r, int err) {
  const std::string path = ReferencedPath(r);
  if (err == EEXIST) {
    return UsageError(path + " exists (use --force to overwrite it)");
  }
  // SPEC(QX.BK.resolve_beneath): the kernel (or the O_NOFOLLOW walk) found
  // that the name leaves the directory, or needs a symlink it may not follow.
  if (err == EXDEV || err == ELOOP) {
    return Rejected("QX.BK.resolve_beneath", r.at,
                    std::string(r.what) + " name '" + r.name +
                        "' resolves outside the image's directory (through " +
                        (err == ELOOP ? "a symlink that may not be followed"
                                      : "a symlink or '..'") +
                        "; use --allow-any-path to allow it)");
  }
  return IoError(std::string("cannot open ") + r.what + " " + path + ": " +
                 std::strerror(err));
}

}  // namespace

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

std::string ReferencedPath(const ReferenceRequest& r) {
  if (!r.name.empty() && r.name[0] == '/') return r.name;
  return r.directory + "/" + r.name;
}

Result<OpenedFd> OpenReferenced(const ReferenceRequest& r, int flags,
                                const std::set<FileId>* must_not_be) {
  if (r.name.find('\0') != std::string::npos) {
    return Rejected(
        "QX.BK.path_policy", r.at,
        std::string(r.what) + " name '" + r.name + "' contains a NUL byte");
  }
  // SPEC(QX.BK.path_policy)
  if (!r.allow_any_path && !IsContainedRelativePath(r.name)) {
    return Rejected("QX.BK.path_policy", r.at,
                    std::string(r.what) + " name '" + r.name +
                        "' is absolute or leaves the image's directory "
                        "(use --allow-any-path to allow it)");
  }
  const std::string path = ReferencedPath(r);
  int fd = -1;
  if (r.allow_any_path) {
    fd = ::open(path.c_str(), flags | kCommonFlags, 0644);
  } else {
    const int dir =
        ::open(r.directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return OpenFailure(r, errno);
    // SPEC(QX.BK.resolve_beneath)
    fd = OpenBeneath(dir, r.name, flags | kCommonFlags, 0644);
    const int err = errno;
    ::close(dir);
    errno = err;
  }
  if (fd < 0) return OpenFailure(r, errno);
  AdoptRules rules;
  // SPEC(QX.BK.regular_only): a FIFO, socket or character device is refused
  // before any read; a block device only when any path is allowed.
  rules.allow_block = r.allow_any_path;
  rules.clause = "QX.BK.regular_only";
  rules.at = r.at;
  rules.must_not_be = must_not_be;
  return AdoptDescriptor(fd, path, rules);
}

Result<std::unique_ptr<FileSource>> OpenReferencedSource(
    const ReferenceRequest& r) {
  QCOW2REF_ASSIGN_OR_RETURN(OpenedFd fd, OpenReferenced(r, O_RDONLY));
  return FileSource::Adopt(fd, ReferencedPath(r));
}

Result<std::unique_ptr<FileStore>> OpenReferencedStore(
    const ReferenceRequest& r, bool create, bool overwrite,
    const std::set<FileId>* must_not_be) {
  int flags = O_RDWR;
  if (create) flags |= O_CREAT | (overwrite ? 0 : O_EXCL);
  QCOW2REF_ASSIGN_OR_RETURN(OpenedFd fd, OpenReferenced(r, flags, must_not_be));
  return FileStore::Adopt(fd, ReferencedPath(r), create && overwrite);
}

}  // namespace qcow2ref
