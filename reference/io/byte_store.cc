#include "reference/io/byte_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reference/status/checked_math.h"

namespace qcow2ref {

Status MemoryStore::ReadAt(uint64_t offset, uint8_t* out, size_t length) const {
  if (!RangeWithin(offset, length, bytes_.size())) {
    return IoError("read past the end of " + name_);
  }
  if (length > 0) std::memcpy(out, bytes_.data() + offset, length);
  return OkStatus();
}

Status MemoryStore::WriteAt(uint64_t offset, const uint8_t* data,
                            size_t length) {
  auto end = CheckedAdd(offset, length);
  if (!end || *end > (uint64_t{1} << 40)) {
    return IoError("write too far for an in-memory store");
  }
  if (*end > bytes_.size()) bytes_.resize(*end, 0);
  if (length > 0) std::memcpy(bytes_.data() + offset, data, length);
  return OkStatus();
}

Result<std::unique_ptr<FileStore>> FileStore::Open(
    const std::string& path, bool create, bool overwrite,
    const std::set<FileId>* must_not_be) {
  // Non-blocking and without O_TRUNC: a FIFO or a device cannot hang the
  // open, and nothing is truncated before the file was judged.
  int flags = O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (create) flags |= O_CREAT | (overwrite ? 0 : O_EXCL);
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      return UsageError(path + " exists (use --force to overwrite it)");
    }
    return IoError("cannot open " + path + ": " + std::strerror(errno));
  }
  AdoptRules rules;
  rules.must_not_be = must_not_be;
  QCOW2REF_ASSIGN_OR_RETURN(OpenedFd opened, AdoptDescriptor(fd, path, rules));
  return Adopt(opened, path, create && overwrite);
}

Result<std::unique_ptr<FileStore>> FileStore::Adopt(const OpenedFd& fd,
                                                    std::string path,
                                                    bool truncate) {
  OpenedFd kept = fd;
  if (truncate && fd.regular && fd.size != 0) {
    if (::ftruncate(fd.fd, 0) != 0) {
      const int err = errno;
      ::close(fd.fd);
      return IoError("cannot truncate " + path + ": " + std::strerror(err));
    }
    kept.size = 0;
  }
  return std::unique_ptr<FileStore>(new FileStore(kept, std::move(path)));
}

FileStore::~FileStore() { ::close(fd_); }

Status FileStore::ReadAt(uint64_t offset, uint8_t* out, size_t length) const {
  if (!RangeWithin(offset, length, size_)) {
    return IoError("read past the end of " + path_);
  }
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd_, out + done, length - done,
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("read error in " + path_);
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Status FileStore::WriteAt(uint64_t offset, const uint8_t* data, size_t length) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd_, data + done, length - done,
                         static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return IoError("write error in " + path_ + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  size_ = std::max(size_, offset + length);
  return OkStatus();
}

Status FileStore::Flush() {
  if (::fdatasync(fd_) != 0) {
    return IoError("fdatasync failed on " + path_ + ": " +
                   std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace qcow2ref
