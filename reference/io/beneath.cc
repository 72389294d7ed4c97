#include "reference/io/beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define QCOW2REF_HAVE_OPENAT2 1
#endif

namespace qcow2ref {
namespace {

std::vector<std::string> Components(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    parts.push_back(name.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// Closes every descriptor the walk opened, keeping errno.
void CloseAll(std::vector<int>* fds) {
  const int saved = errno;
  for (int fd : *fds) ::close(fd);
  fds->clear();
  errno = saved;
}

// After a refused directory step: ELOOP when the component is a symlink.
void NameSymlink(int dirfd, const std::string& part) {
  const int saved = errno;
  struct stat st;
  if (::fstatat(dirfd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    errno = ELOOP;
    return;
  }
  errno = saved;
}

}  // namespace

int OpenBeneathWalk(int dirfd, const std::string& name, int flags,
                    mode_t mode) {
  if (name.empty() || name[0] == '/') {
    errno = name.empty() ? ENOENT : EXDEV;
    return -1;
  }
  const std::vector<std::string> parts = Components(name);
  const std::string& last = parts.back();
  if (last.empty() || last == "." || last == "..") {
    errno = EISDIR;
    return -1;
  }
  std::vector<int> entered;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (entered.empty()) {
        errno = EXDEV;
        return -1;
      }
      ::close(entered.back());
      entered.pop_back();
      continue;
    }
    const int here = entered.empty() ? dirfd : entered.back();
    const int fd = ::openat(here, part.c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      NameSymlink(here, part);
      CloseAll(&entered);
      return -1;
    }
    entered.push_back(fd);
  }
  const int here = entered.empty() ? dirfd : entered.back();
  const int fd = ::openat(here, last.c_str(), flags | O_NOFOLLOW, mode);
  CloseAll(&entered);
  return fd;
}

int OpenBeneath(int dirfd, const std::string& name, int flags, mode_t mode) {
  // SPEC(QX.BK.resolve_beneath): the kernel resolves the name, and refuses a
  // symlink or `..` that leaves `dirfd`; without openat2 the walk above
  // follows no symlink at all.
#if defined(QCOW2REF_HAVE_OPENAT2) && defined(SYS_openat2)
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd =
      ::syscall(SYS_openat2, dirfd, name.c_str(), &how, sizeof(how));
  if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
    return static_cast<int>(fd);
  }
  // No openat2 (kernel before 5.6, or a seccomp filter without it).
#endif
  return OpenBeneathWalk(dirfd, name, flags, mode);
}

}  // namespace qcow2ref
