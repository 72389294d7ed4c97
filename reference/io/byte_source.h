// Random-access input of bytes: a host file or a buffer in memory. Everything
// the reader parses comes through this interface, so fuzzers and tests can feed
// images from memory.
#ifndef QCOW2REF_REFERENCE_IO_BYTE_SOURCE_H_
#define QCOW2REF_REFERENCE_IO_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reference/io/descriptor.h"
#include "reference/io/file_id.h"
#include "reference/status/status.h"

namespace qcow2ref {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Size of the source in bytes.
  virtual uint64_t Size() const = 0;

  // Reads exactly `length` bytes at `offset`; a range past the end is an error
  // (callers check ranges against Size() first and name the clause).
  virtual Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const = 0;

  // Like ReadAt, but bytes past the end of the source read as zero.
  Status ReadAtZeroFilled(uint64_t offset, uint8_t* out, size_t length) const;

  // A human-readable name for messages (a path, or "<memory>").
  virtual std::string Name() const = 0;

  // The host file's device and inode; nullopt for memory.
  virtual std::optional<FileId> Identity() const { return std::nullopt; }

  // The open descriptor of a host file, for kernel-side copies (the caller
  // does not own it); -1 for memory.
  virtual int Descriptor() const { return -1; }
};

// An owned in-memory buffer.
class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes,
                        std::string name = "<memory>");
  uint64_t Size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const override;
  std::string Name() const override { return name_; }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

// A read-only host file (opened with O_RDONLY; size taken at open).
class FileSource : public ByteSource {
 public:
  // A path the user gave: a regular file or a block device.
  static Result<std::unique_ptr<FileSource>> Open(const std::string& path);
  // A descriptor already judged by AdoptDescriptor (takes ownership).
  static std::unique_ptr<FileSource> Adopt(const OpenedFd& fd,
                                           std::string path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t Size() const override { return size_; }
  Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const override;
  std::string Name() const override { return path_; }
  std::optional<FileId> Identity() const override { return id_; }
  int Descriptor() const override { return fd_; }
  // The first run of data at or after `from`: [start, end), both at most
  // Size(); (Size(), Size()) when only holes follow. Found with
  // SEEK_DATA/SEEK_HOLE; where the file system has neither, everything is
  // data.
  Result<std::pair<uint64_t, uint64_t>> NextData(uint64_t from) const;

 private:
  FileSource(const OpenedFd& fd, std::string path)
      : fd_(fd.fd), size_(fd.size), id_(fd.id), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  FileId id_;
  std::string path_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_BYTE_SOURCE_H_
