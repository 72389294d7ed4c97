#include "fuzz/differential/libqcow_peer.h"

#include <libqcow.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace qcow2ref::diff {
namespace {

// The innermost cause: libqcow's backtrace lists it first.
std::string FirstLine(libqcow_error_t* error) {
  if (error == nullptr) return "";
  char text[2048] = {0};
  libqcow_error_backtrace_sprint(error, text, sizeof(text));
  libqcow_error_free(&error);
  std::string s(text);
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// An anonymous file holding `bytes`, closed on destruction.
class MemoryFile {
 public:
  explicit MemoryFile(const std::vector<uint8_t>& bytes)
      : fd_(memfd_create("libqcow-peer", MFD_CLOEXEC)) {
    size_t done = 0;
    while (fd_ >= 0 && done < bytes.size()) {
      const ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ok_ = fd_ >= 0 && done == bytes.size();
  }
  ~MemoryFile() {
    if (fd_ >= 0) close(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  bool ok() const { return ok_; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
  bool ok_ = false;
};

}  // namespace

// libqcow 20201213 reads past a heap buffer when a cluster extends past the
// end of the file (conformance/FINDINGS.md, y_map_last_cluster_partial). By
// qcow2's rules the bytes past the end read as zeros, so the harness hands
// libqcow the file padded with zeros to a whole number of clusters, which
// reads the same: campaigns then go past this known defect.
// QCOW2REF_DIFF_NO_PAD=1 hands the bytes as they are (to reproduce it).
std::vector<uint8_t> PaddedToClusters(const std::vector<uint8_t>& image) {
  if (image.size() < 24 || std::getenv("QCOW2REF_DIFF_NO_PAD") != nullptr) {
    return image;
  }
  const uint32_t bits = (uint32_t{image[20]} << 24) |
                        (uint32_t{image[21]} << 16) |
                        (uint32_t{image[22]} << 8) | image[23];
  if (bits < 9 || bits > 21) return image;
  const size_t cluster = size_t{1} << bits;
  std::vector<uint8_t> padded = image;
  padded.resize((image.size() + cluster - 1) / cluster * cluster, 0);
  return padded;
}

PeerResult LibqcowRead(const std::vector<uint8_t>& image,
                       const std::vector<Window>& windows) {
  PeerResult r;
  MemoryFile file(PaddedToClusters(image));
  if (!file.ok()) {
    r.error = "memfd_create failed";
    return r;
  }
  libqcow_file_t* q = nullptr;
  libqcow_error_t* error = nullptr;
  if (libqcow_file_initialize(&q, &error) != 1) {
    r.error = FirstLine(error);
    return r;
  }
  const std::string path = file.path();
  if (libqcow_file_open(q, path.c_str(), LIBQCOW_OPEN_READ, &error) != 1) {
    r.error = FirstLine(error);
    libqcow_file_free(&q, nullptr);
    return r;
  }
  r.opened = true;
  size64_t size = 0;
  if (libqcow_file_get_media_size(q, &size, &error) != 1) {
    r.error = FirstLine(error);
  } else {
    r.media_size = size;
    r.read_ok = true;
    for (const Window& w : windows) {
      if (w.offset >= size) continue;
      const uint64_t end = std::min<uint64_t>(size, w.offset + w.length);
      for (uint64_t at = w.offset; at < end && r.read_ok;) {
        const size_t piece = static_cast<size_t>(
            std::min<uint64_t>(end - at, uint64_t{64} << 10));
        const size_t old = r.data.size();
        r.data.resize(old + piece);
        const ssize_t n = libqcow_file_read_buffer_at_offset(
            q, r.data.data() + old, piece, static_cast<off64_t>(at), &error);
        if (n != static_cast<ssize_t>(piece)) {
          r.read_ok = false;
          r.failed_at = at;
          r.error = error ? FirstLine(error) : "short read";
          error = nullptr;
          r.data.resize(old);
        }
        at += piece;
      }
      if (!r.read_ok) break;
    }
  }
  libqcow_file_close(q, nullptr);
  libqcow_file_free(&q, nullptr);
  return r;
}

}  // namespace qcow2ref::diff
