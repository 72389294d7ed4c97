#include "reference/io/raw_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace qcow2ref {
namespace {

constexpr uint64_t kBufferBytes = 1ull << 20;

Status WriteError(int err) {
  return IoError("write error: " + std::string(std::strerror(err)));
}

}  // namespace

RawSink::RawSink(int fd) : fd_(fd) {
  struct stat st;
  const int flags = ::fcntl(fd, F_GETFL);
  // Not for a read-only descriptor: write(2) reports it (EBADF).
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flags < 0 ||
      (flags & O_APPEND) != 0 || (flags & O_ACCMODE) == O_RDONLY) {
    return;
  }
  const off_t at = ::lseek(fd, 0, SEEK_CUR);
  if (at < 0) return;
  positional_ = true;
  pos_ = static_cast<uint64_t>(at);
  old_end_ = static_cast<uint64_t>(st.st_size);
}

Status RawSink::Write(const uint8_t* data, uint64_t length) {
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, 1u << 30));
    const ssize_t w = positional_
                          ? ::pwrite(fd_, data, n, static_cast<off_t>(pos_))
                          : ::write(fd_, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return WriteError(errno);
    if (w == 0) return WriteError(EIO);
    data += w;
    length -= static_cast<uint64_t>(w);
    pos_ += static_cast<uint64_t>(w);
  }
  return OkStatus();
}

Status RawSink::WriteZeros(uint64_t length) {
  // Below the file's old end a hole would show its old bytes: write zeros
  // there; past it, skip (Finish makes a final hole part of the file).
  if (positional_ && pos_ >= old_end_) {
    pos_ += length;
    hole_bytes_ += length;
    return OkStatus();
  }
  if (positional_ && pos_ + length > old_end_) {
    const uint64_t below = old_end_ - pos_;
    QCOW2REF_RETURN_IF_ERROR(WriteZeros(below));
    return WriteZeros(length - below);
  }
  buffer_.assign(std::min(length, kBufferBytes), 0);
  while (length > 0) {
    const uint64_t n = std::min<uint64_t>(length, buffer_.size());
    QCOW2REF_RETURN_IF_ERROR(Write(buffer_.data(), n));
    length -= n;
  }
  return OkStatus();
}

Status RawSink::Copy(const ByteSource& file, uint64_t offset, uint64_t length) {
  const int in = file.Descriptor();
  while (positional_ && kernel_copy_ && in >= 0 && length > 0) {
    loff_t in_at = static_cast<loff_t>(offset);
    loff_t out_at = static_cast<loff_t>(pos_);
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(length, 1u << 30));
    const ssize_t n = ::copy_file_range(in, &in_at, fd_, &out_at, want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                  errno == EOPNOTSUPP || errno == EBADF || errno == EPERM)) {
      kernel_copy_ = false;  // Not between these files: copy through memory.
      break;
    }
    if (n < 0) return WriteError(errno);
    // 0: the input ended early (it shrank); the memory copy reports it.
    if (n == 0) break;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
    pos_ += static_cast<uint64_t>(n);
    kernel_copied_ += static_cast<uint64_t>(n);
  }
  return CopyThroughMemory(file, offset, length);
}

Status RawSink::CopyThroughMemory(const ByteSource& file, uint64_t offset,
                                  uint64_t length) {
  if (length == 0) return OkStatus();
  std::vector<uint8_t> buf(std::min(length, kBufferBytes));
  while (length > 0) {
    const uint64_t n = std::min<uint64_t>(length, buf.size());
    QCOW2REF_RETURN_IF_ERROR(file.ReadAt(offset, buf.data(), n));
    QCOW2REF_RETURN_IF_ERROR(Write(buf.data(), n));
    offset += n;
    length -= n;
  }
  return OkStatus();
}

Status RawSink::Finish() {
  if (!positional_) return OkStatus();
  struct stat st;
  if (::fstat(fd_, &st) != 0) return WriteError(errno);
  if (static_cast<uint64_t>(st.st_size) < pos_ &&
      ::ftruncate(fd_, static_cast<off_t>(pos_)) != 0) {
    return WriteError(errno);
  }
  if (::lseek(fd_, static_cast<off_t>(pos_), SEEK_SET) < 0) {
    return WriteError(errno);
  }
  return OkStatus();
}

}  // namespace qcow2ref
