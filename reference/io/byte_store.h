// Read-write storage for the writer: a host file or a buffer in memory.
// Writes past the end extend the store (with zeros in any gap).
#ifndef QCOW2REF_REFERENCE_IO_BYTE_STORE_H_
#define QCOW2REF_REFERENCE_IO_BYTE_STORE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "reference/io/byte_source.h"

namespace qcow2ref {

class ByteStore : public ByteSource {
 public:
  virtual Status WriteAt(uint64_t offset, const uint8_t* data,
                         size_t length) = 0;
  // Makes every earlier write durable (a write barrier).
  virtual Status Flush() = 0;
};

class MemoryStore : public ByteStore {
 public:
  explicit MemoryStore(std::vector<uint8_t> bytes = {},
                       std::string name = "<memory>")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  uint64_t Size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const override;
  std::string Name() const override { return name_; }
  Status WriteAt(uint64_t offset, const uint8_t* data, size_t length) override;
  Status Flush() override { return OkStatus(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

class FileStore : public ByteStore {
 public:
  // Opens an existing file read-write, or creates it (`create`: fails if it
  // exists unless `overwrite`). A file whose identity is in `must_not_be`
  // is refused (QX.CLI.output_not_input) before it is truncated.
  static Result<std::unique_ptr<FileStore>> Open(
      const std::string& path, bool create, bool overwrite,
      const std::set<FileId>* must_not_be = nullptr);
  // A descriptor already judged by AdoptDescriptor (takes ownership);
  // `truncate` empties a regular file first.
  static Result<std::unique_ptr<FileStore>> Adopt(const OpenedFd& fd,
                                                  std::string path,
                                                  bool truncate);
  ~FileStore() override;
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  uint64_t Size() const override { return size_; }
  Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const override;
  std::string Name() const override { return path_; }
  std::optional<FileId> Identity() const override { return id_; }
  Status WriteAt(uint64_t offset, const uint8_t* data, size_t length) override;
  Status Flush() override;

 private:
  FileStore(const OpenedFd& fd, std::string path)
      : fd_(fd.fd), size_(fd.size), id_(fd.id), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  FileId id_;
  std::string path_;
};

// A non-owning view of another source (e.g. to open an Image over a store
// that a writer also holds).
class BorrowedSource : public ByteSource {
 public:
  explicit BorrowedSource(const ByteSource* inner) : inner_(inner) {}
  uint64_t Size() const override { return inner_->Size(); }
  Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const override {
    return inner_->ReadAt(offset, out, length);
  }
  std::string Name() const override { return inner_->Name(); }
  std::optional<FileId> Identity() const override { return inner_->Identity(); }

 private:
  const ByteSource* inner_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_BYTE_STORE_H_
