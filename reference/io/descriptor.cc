#include "reference/io/descriptor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qcow2ref {
namespace {

Error Fail(int fd, Error e) {
  ::close(fd);
  return e;
}

}  // namespace

Result<OpenedFd> AdoptDescriptor(int fd, const std::string& name,
                                 const AdoptRules& rules) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    return Fail(fd, IoError("cannot stat " + name + ": " + std::strerror(err)));
  }
  const bool regular = S_ISREG(st.st_mode);
  if (!regular && !(rules.allow_block && S_ISBLK(st.st_mode))) {
    const std::string what =
        name +
        (S_ISBLK(st.st_mode) ? " is a block device" : " is not a regular file");
    if (rules.clause == nullptr) return Fail(fd, IoError(what));
    return Fail(fd, Rejected(rules.clause, rules.at,
                             what + " (only regular files are opened" +
                                 (S_ISBLK(st.st_mode)
                                      ? "; use --allow-any-path for a device)"
                                      : ")")));
  }
  OpenedFd out;
  out.id = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  // SPEC(QX.CLI.output_not_input): judged before anything is truncated or
  // written.
  if (rules.must_not_be != nullptr && rules.must_not_be->count(out.id) > 0) {
    return Fail(fd,
                UsageError("QX.CLI.output_not_input",
                           name + " is also an input of this command (the same "
                                  "file): writing it would destroy the input"));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int err = errno;
    return Fail(fd, IoError("cannot use " + name + ": " + std::strerror(err)));
  }
  out.fd = fd;
  out.regular = regular;
  out.size = static_cast<uint64_t>(st.st_size);
  if (!regular) {
    const off_t end = ::lseek(fd, 0, SEEK_END);
    out.size = end < 0 ? 0 : static_cast<uint64_t>(end);
  }
  return out;
}

std::optional<FileId> IdentityOfDescriptor(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return FileId{static_cast<uint64_t>(st.st_dev),
                static_cast<uint64_t>(st.st_ino)};
}

std::optional<FileId> IdentityOfPath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{static_cast<uint64_t>(st.st_dev),
                static_cast<uint64_t>(st.st_ino)};
}

}  // namespace qcow2ref
