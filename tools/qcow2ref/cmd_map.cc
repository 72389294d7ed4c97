// qcow2ref map: the allocation map in `qemu-img map` vocabulary.
#include <cstdio>

#include "reference/image/guest_map.h"
#include "reference/image/image.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/open_image.h"

namespace qcow2ref::cli {

int RunMap(int argc, char** argv) {
  int rc = kExitOk;
  auto cmd = OpenJsonImageCommand(argc, argv, "map IMAGE [--json]", &rc);
  if (!cmd) return rc;
  const Image& image = *cmd->opened.image;
  if (image.header().crypt_method != CryptMethod::kNone &&
      !image.can_decrypt()) {
    // Like qemu-img, mapping an encrypted image needs its secret.
    return ReportError(MissingSecretError("Q2.ENC.payload"));
  }
  // SPEC(QX.LIMIT.map_stream): entries are printed as they are found; the
  // cap (QX.LIMIT.map_entries) holds for the whole call. A refused map ends
  // its partial output with the one-line error on stderr and exit code 1.
  bool first = true;
  if (cmd->json) {
    std::fputs("[", stdout);
  } else {
    std::printf("%-20s%-20s%-20s%s\n", "Offset", "Length", "Mapped to", "Kind");
  }
  Status st = ForEachMapEntry(
      image, 0, image.guest_size(),
      [&](const MapEntry& m) -> Status {
        if (cmd->json) {
          // One object per line, like qemu-img; numbers and booleans only,
          // so printed directly (a JSON object per entry costs ~10x more).
          char line[256];
          int n = std::snprintf(
              line, sizeof line,
              "%s{\"start\":%llu,\"length\":%llu,\"depth\":%d,"
              "\"present\":%s,\"zero\":%s,\"data\":%s",
              first ? "" : ",\n", static_cast<unsigned long long>(m.start),
              static_cast<unsigned long long>(m.length), m.depth,
              m.present ? "true" : "false", m.zero ? "true" : "false",
              m.data ? "true" : "false");
          if (m.compressed) {
            n += std::snprintf(line + n, sizeof line - n,
                               ",\"compressed\":true");
          }
          if (m.offset) {
            n += std::snprintf(line + n, sizeof line - n, ",\"offset\":%llu",
                               static_cast<unsigned long long>(*m.offset));
          }
          std::snprintf(line + n, sizeof line - n, "}");
          std::fputs(line, stdout);
          first = false;
          return OkStatus();
        }
        const char* kind = m.compressed          ? "compressed"
                           : m.data              ? "data"
                           : m.zero && m.present ? "zero"
                                                 : "unallocated";
        char mapped[24] = "-";
        if (m.offset) {
          std::snprintf(mapped, sizeof mapped, "0x%llx",
                        static_cast<unsigned long long>(*m.offset));
        }
        std::printf("0x%-18llx0x%-18llx%-20s%s (depth %d)\n",
                    static_cast<unsigned long long>(m.start),
                    static_cast<unsigned long long>(m.length), mapped, kind,
                    m.depth);
        return OkStatus();
      },
      kMaxMapEntries);
  if (cmd->json) std::fputs(st.ok() ? "]\n" : "\n", stdout);
  std::fflush(stdout);
  if (!st.ok()) return ReportError(st.take_error());
  return kExitOk;
}

}  // namespace qcow2ref::cli
