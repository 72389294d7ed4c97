#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reference/io/byte_source.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path) {
  // Non-blocking, so that a FIFO or a device cannot hang the open; the
  // type is judged before any read and the flag dropped.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    return IoError("cannot open " + path + ": " + std::strerror(errno));
  }
  QCOW2REF_ASSIGN_OR_RETURN(OpenedFd opened,
                            AdoptDescriptor(fd, path, AdoptRules()));
  return Adopt(opened, path);
}

std::unique_ptr<FileSource> FileSource::Adopt(const OpenedFd& fd,
                                              std::string path) {
  return std::unique_ptr<FileSource>(new FileSource(fd, std::move(path)));
}

FileSource::~FileSource() { ::close(fd_); }

Result<std::pair<uint64_t, uint64_t>> FileSource::NextData(
    uint64_t from) const {
  if (from >= size_) return std::make_pair(size_, size_);
  off_t data = ::lseek(fd_, static_cast<off_t>(from), SEEK_DATA);
  if (data < 0) {
    // ENXIO: no data at or after `from`. Any other error (a file system
    // without SEEK_DATA): everything counts as data.
    if (errno == ENXIO) return std::make_pair(size_, size_);
    return std::make_pair(from, size_);
  }
  off_t hole = ::lseek(fd_, data, SEEK_HOLE);
  uint64_t end = hole < 0 ? size_ : static_cast<uint64_t>(hole);
  const uint64_t start = std::min<uint64_t>(static_cast<uint64_t>(data), size_);
  return std::make_pair(start, std::max(start, std::min(end, size_)));
}

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
