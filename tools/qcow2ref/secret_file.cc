#include "tools/qcow2ref/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qcow2ref::cli {
namespace {

// A secret is short: never read an unbounded file.
constexpr size_t kMaxSecret = 64 << 10;

Error SecretFileError(const std::string& path, const std::string& why) {
  // SPEC(QX.ENC.secret_file)
  return UsageError("QX.ENC.secret_file",
                    "the secret file " + path + " " + why);
}

// Closes the descriptor on every path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<SecretBytes> ReadSecretFile(const std::string& path) {
  // Non-blocking: a FIFO must not hang the open before fstat refuses it.
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
  if (f.fd < 0) {
    return SecretFileError(path,
                           std::string("cannot be opened: ") + strerror(errno));
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) {
    return SecretFileError(
        path, std::string("cannot be examined: ") + strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return SecretFileError(path, S_ISDIR(st.st_mode)
                                     ? "is a directory, not a regular file"
                                     : "is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxSecret) {
    return SecretFileError(path, "is larger than 64 KiB");
  }
  SecretBytes secret(kMaxSecret + 1);
  size_t got = 0;
  while (got < secret.size()) {
    const ssize_t n = ::read(f.fd, secret.data() + got, secret.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return SecretFileError(path,
                             std::string("cannot be read: ") + strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxSecret) return SecretFileError(path, "is larger than 64 KiB");
  // SPEC(QX.ENC.secret_bytes): exact bytes, no newline stripping.
  SecretBytes exact(secret.data(), got);
  return exact;
}

}  // namespace qcow2ref::cli
