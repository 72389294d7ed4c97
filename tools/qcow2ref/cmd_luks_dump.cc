// qcow2ref luks-dump: the LUKS header of a crypt_method 2 image, laid out like
// `cryptsetup luksDump` for LUKS1.
#include <cstdio>
#include <string>

#include "reference/image/image.h"
#include "reference/status/text_escape.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/open_image.h"

namespace qcow2ref::cli {
namespace {

// Hex bytes, `per_line` per line; continuation lines start with `indent`.
std::string HexLines(const uint8_t* p, size_t n, const std::string& indent,
                     size_t per_line = 16) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && i % per_line == 0) out += "\n" + indent;
    std::snprintf(buf, sizeof buf, "%02x ", p[i]);
    out += buf;
  }
  return out;
}

}  // namespace

int RunLuksDump(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {}, {});
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1) return UsageFailure("luks-dump IMAGE");
  auto img = OpenImageArg(*args, args->positional[0], false);
  if (!img.ok()) return ReportError(img.error());
  const auto& luks = img->image->luks();
  if (!luks) {
    return ReportError(UsageError(
        "Q2.FDE.only_luks", "the image is not LUKS-encrypted (crypt_method " +
                                std::to_string(static_cast<uint32_t>(
                                    img->image->header().crypt_method)) +
                                ")"));
  }
  const LuksHeader& h = *luks;
  // SPEC(QX.CLI.control_escape): header strings and the path are bytes.
  std::printf("LUKS header information for %s\n\n",
              EscapeForTerminal(args->positional[0]).c_str());
  std::printf("Version:       \t%u\n", h.version);
  std::printf("Cipher name:   \t%s\n",
              EscapeForTerminal(h.cipher_name).c_str());
  std::printf("Cipher mode:   \t%s\n",
              EscapeForTerminal(h.cipher_mode).c_str());
  std::printf("Hash spec:     \t%s\n", EscapeForTerminal(h.hash_spec).c_str());
  std::printf("Payload offset:\t%u\n", h.payload_offset);
  std::printf("MK bits:       \t%u\n", h.key_bytes * 8);
  std::printf("MK digest:     \t%s\n",
              HexLines(h.mk_digest.data(), h.mk_digest.size(), "", 20).c_str());
  std::printf("MK salt:       \t%s\n",
              HexLines(h.mk_digest_salt.data(), h.mk_digest_salt.size(),
                       "               \t")
                  .c_str());
  std::printf("MK iterations: \t%u\n", h.mk_digest_iter);
  std::printf("UUID:          \t%s\n\n", EscapeForTerminal(h.uuid).c_str());
  for (int i = 0; i < kLuksSlots; ++i) {
    const LuksKeySlot& k = h.slots[i];
    if (!k.enabled()) {
      std::printf("Key Slot %d: DISABLED\n", i);
      continue;
    }
    std::printf("Key Slot %d: ENABLED\n", i);
    std::printf("\tIterations:         \t%u\n", k.iterations);
    std::printf(
        "\tSalt:               \t%s\n",
        HexLines(k.salt.data(), k.salt.size(), "\t                      \t")
            .c_str());
    std::printf("\tKey material offset:\t%u\n", k.key_material_offset);
    std::printf("\tAF stripes:            \t%u\n", k.stripes);
  }
  return kExitOk;
}

}  // namespace qcow2ref::cli
