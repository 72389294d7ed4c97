// qcow2ref read: raw guest bytes of the active layer or a snapshot.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <vector>

#include "reference/image/image.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/open_image.h"
#include "tools/qcow2ref/output_file.h"

namespace qcow2ref::cli {
namespace {

// 1 MiB stays in the CPU caches between pread, decrypt and write; 4 MiB did
// not and tripled the kernel's copy time (docs/performance.md).
constexpr uint64_t kChunk = 1ull << 20;

// True when an image of the chain was decrypted with legacy AES, whose key
// nothing can confirm.
bool ReadWithLegacyAes(const Image& top) {
  for (const Image* i = &top; i != nullptr; i = i->backing_image()) {
    if (i->header().crypt_method == CryptMethod::kAes && i->can_decrypt())
      return true;
  }
  return false;
}

}  // namespace

int RunRead(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"--allow-any-path"},
                        {"--output", "--offset", "--length", "--snapshot",
                         "--secret-file", "--secret-env"});
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1) {
    return UsageFailure(
        "read IMAGE [--output FILE] [--offset N] [--length L] "
        "[--snapshot NAME]");
  }
  auto img = OpenImageArg(*args, args->positional[0], true);
  if (!img.ok()) return ReportError(img.error());
  Image& image = *img->image;
  if (auto snap = args->Get("--snapshot")) {
    Status st = image.SelectSnapshot(*snap);
    if (!st.ok()) return ReportError(st.error());
  }
  uint64_t offset = 0;
  uint64_t length = image.guest_size();
  if (auto o = args->Get("--offset")) {
    auto v = ParseSize(*o, "--offset");
    if (!v.ok()) return ReportError(v.error());
    offset = *v;
    length = offset <= image.guest_size() ? image.guest_size() - offset : 0;
  }
  if (auto l = args->Get("--length")) {
    auto v = ParseSize(*l, "--length");
    if (!v.ok()) return ReportError(v.error());
    length = *v;
  }
  if (offset > image.guest_size() || length > image.guest_size() - offset) {
    return UsageFailure("range goes past the virtual size " +
                        std::to_string(image.guest_size()));
  }
  FILE* out = stdout;
  if (auto path = args->Get("--output")) {
    auto opened = OpenOutputFile(*path, image.chain_files());
    if (!opened.ok()) return ReportError(opened.error());
    out = *opened;
  }
  // Two buffers: chunk k is read and decrypted while chunk k-1 is written
  // out on another thread.
  const size_t size = std::min(kChunk, std::max<uint64_t>(length, 1));
  std::vector<uint8_t> bufs[2] = {std::vector<uint8_t>(size),
                                  std::vector<uint8_t>(size)};
  std::future<int> writing;  // The previous chunk's write: 0 or an errno.
  int write_errno = 0;
  auto wait_write = [&] {
    if (writing.valid() && write_errno == 0) write_errno = writing.get();
    return write_errno == 0;
  };
  int rc = kExitOk;
  for (uint64_t done = 0, k = 0; done < length; ++k) {
    const uint64_t n = std::min<uint64_t>(size, length - done);
    std::vector<uint8_t>& buf = bufs[k % 2];
    Status st = image.Read(offset + done, buf.data(), n);
    if (!wait_write()) break;
    if (!st.ok()) {
      rc = ReportError(st.error());
      break;
    }
    writing = std::async(std::launch::async, [&buf, n, out] {
      const bool ok = std::fwrite(buf.data(), 1, n, out) == n;
      return ok ? 0 : (errno != 0 ? errno : EIO);
    });
    done += n;
  }
  if (!wait_write() && rc == kExitOk) {
    rc = ReportError(
        IoError("write error: " + std::string(std::strerror(write_errno))));
  }
  if (out != stdout)
    std::fclose(out);
  else
    std::fflush(stdout);
  if (rc == kExitOk && ReadWithLegacyAes(image)) {
    // SPEC(QX.ENC.aes.no_key_check): one note, after the data, exit 0; a
    // failed read keeps its single error line.
    std::fputs(
        "qcow2ref: note: QX.ENC.aes.no_key_check: legacy AES has no key "
        "check: the passphrase could not be verified (a wrong one reads as "
        "garbage)\n",
        stderr);
  }
  return rc;
}

}  // namespace qcow2ref::cli
