// qcow2ref read: raw guest bytes of the active layer or a snapshot.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "reference/image/guest_copy.h"
#include "reference/image/image.h"
#include "reference/io/raw_sink.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/open_image.h"
#include "tools/qcow2ref/output_file.h"

namespace qcow2ref::cli {
namespace {

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
  int fd = STDOUT_FILENO;
  if (auto path = args->Get("--output")) {
    auto opened = OpenOutputFile(*path, image.chain_files());
    if (!opened.ok()) return ReportError(opened.error());
    fd = *opened;
  } else {
    Status st = CheckStdoutNotInput(image.chain_files());
    if (!st.ok()) return ReportError(st.error());
  }
  RawSink sink(fd);
  Status copied = CopyGuestRange(image, offset, length, &sink);
  if (fd != STDOUT_FILENO && ::close(fd) != 0 && copied.ok()) {
    copied = IoError("write error: " + std::string(std::strerror(errno)));
  }
  const int rc = copied.ok() ? kExitOk : ReportError(copied.error());
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
