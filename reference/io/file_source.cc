#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reference/io/byte_source.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return IoError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("cannot stat " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    ::close(fd);
    return IoError(path + " is not a regular file");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    size = end < 0 ? 0 : static_cast<uint64_t>(end);
  }
  return std::unique_ptr<FileSource>(new FileSource(fd, size, path));
}

FileSource::~FileSource() { ::close(fd_); }

Status FileSource::ReadAt(uint64_t offset, uint8_t* out, size_t length) const {
  if (!RangeWithin(offset, length, size_)) {
    return IoError("read of " + std::to_string(length) + " bytes at " +
                   std::to_string(offset) + " past the end of " + path_);
  }
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd_, out + done, length - done,
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read error in " + path_ + ": " + std::strerror(errno));
    }
    if (n == 0) {
      return IoError("unexpected end of file in " + path_);
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

}  // namespace qcow2ref
