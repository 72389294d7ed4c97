#include "tools/qcow2ref/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "reference/io/descriptor.h"

namespace qcow2ref::cli {

Result<int> OpenOutputFile(const std::string& path,
                           const std::set<FileId>& inputs) {
  // No O_TRUNC: nothing changes before the file is judged.
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    return IoError("cannot create " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError("cannot stat " + path + ": " + std::strerror(err));
  }
  const FileId id{static_cast<uint64_t>(st.st_dev),
                  static_cast<uint64_t>(st.st_ino)};
  // SPEC(QX.CLI.output_not_input)
  if (inputs.count(id) > 0) {
    ::close(fd);
    return UsageError("QX.CLI.output_not_input",
                      path +
                          " is also an input of this command (the same file): "
                          "writing it would destroy the input");
  }
  if (S_ISREG(st.st_mode) && st.st_size != 0 && ::ftruncate(fd, 0) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError("cannot truncate " + path + ": " + std::strerror(err));
  }
  return fd;
}

Status CheckStdoutNotInput(const std::set<FileId>& inputs) {
  const std::optional<FileId> id = IdentityOfDescriptor(STDOUT_FILENO);
  // SPEC(QX.CLI.output_not_input)
  if (id && inputs.count(*id) > 0) {
    return UsageError("QX.CLI.output_not_input",
                      "standard output is also an input of this command (the "
                      "same file): writing it would destroy the input");
  }
  return OkStatus();
}

}  // namespace qcow2ref::cli
