// qcow2ref map: the allocation map in `qemu-img map` vocabulary.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "reference/image/guest_map.h"
#include "reference/image/image.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/json_text.h"
#include "tools/qcow2ref/open_image.h"

namespace qcow2ref::cli {

int RunMap(int argc, char** argv) {
  int rc = kExitOk;
  auto cmd = OpenJsonImageCommand(argc, argv, "map IMAGE [--json]", &rc);
  if (!cmd) return rc;
  const Image& image = *cmd->opened.image;
  if (image.header().crypt_method != 0 && !image.can_decrypt()) {
    // Like qemu-img, mapping an encrypted image needs its secret.
    return ReportError(Error{ErrorKind::kUsage, "Q2.ENC.payload", std::nullopt,
                             "the image is encrypted: give its passphrase "
                             "with --secret-file or --secret-env"});
  }
  auto map = MapGuest(image);
  if (!map.ok()) return ReportError(map.error());
  if (cmd->json) {
    // One object per line, like qemu-img.
    std::cout << "[";
    bool first = true;
    for (const MapEntry& m : *map) {
      nlohmann::ordered_json j;
      j["start"] = m.start;
      j["length"] = m.length;
      j["depth"] = m.depth;
      j["present"] = m.present;
      j["zero"] = m.zero;
      j["data"] = m.data;
      if (m.compressed) j["compressed"] = true;
      if (m.offset) j["offset"] = *m.offset;
      std::cout << (first ? "" : ",\n") << DumpJson(j);
      first = false;
    }
    std::cout << "]\n";
    return kExitOk;
  }
  std::printf("%-20s%-20s%-20s%s\n", "Offset", "Length", "Mapped to", "Kind");
  for (const MapEntry& m : *map) {
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
  }
  return kExitOk;
}

}  // namespace qcow2ref::cli
