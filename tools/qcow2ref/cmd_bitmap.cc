// qcow2ref bitmap add|remove|clear|enable|disable|merge|list: persistent
// dirty bitmaps, with qemu-img bitmap's semantics.
#include <cstdio>
#include <string>

#include "reference/format/bitmap_directory.h"
#include "reference/image/image.h"
#include "reference/status/text_escape.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {
namespace {

constexpr char kBitmapUsage[] =
    "bitmap add IMAGE NAME [--granularity N] [--disable] | "
    "remove|clear|enable|disable IMAGE NAME | merge IMAGE TARGET --source "
    "NAME | list IMAGE";

// SPEC(QX.CLI.bitmap_list_read_only): the reader alone, read-only, no
// referenced file, no passphrase.
int ListBitmaps(const std::string& path) {
  auto image = Image::Open(path, OpenOptions());
  if (!image.ok()) return ReportError(image.error());
  std::printf("%-24s %12s %s\n", "NAME", "GRANULARITY", "FLAGS");
  for (const BitmapEntry& b : (*image)->bitmaps()) {
    std::string flags;
    if (b.flags & kBitmapFlagInUse) flags = "in-use";
    if (b.flags & kBitmapFlagAuto) flags += flags.empty() ? "auto" : ",auto";
    // SPEC(QX.CLI.control_escape): names are bytes.
    std::printf(
        "%-24s %12llu %s\n", EscapeForTerminal(b.name).c_str(),
        static_cast<unsigned long long>(uint64_t{1} << b.granularity_bits),
        flags.empty() ? "-" : flags.c_str());
  }
  return kExitOk;
}

}  // namespace

int RunBitmap(int argc, char** argv) {
  if (argc < 3) return UsageFailure(kBitmapUsage);
  const std::string action = argv[2];
  auto args =
      ParseArgs(argc, argv, 3, {"--allow-any-path", "--disable"},
                {"--secret-file", "--secret-env", "--granularity", "--source"});
  if (!args.ok()) return ReportError(args.error());
  const bool list = action == "list";
  const bool known = list || action == "add" || action == "remove" ||
                     action == "clear" || action == "enable" ||
                     action == "disable" || action == "merge";
  if (!known || args->positional.size() != (list ? 1u : 2u) ||
      (action != "add" &&
       (args->Has("--disable") || args->Get("--granularity"))) ||
      (action == "merge") != args->Get("--source").has_value()) {
    return UsageFailure(kBitmapUsage);
  }
  if (list) return ListBitmaps(args->positional[0]);
  uint64_t granularity = 0;
  if (auto g = args->Get("--granularity")) {
    auto parsed = ParseSize(*g, "--granularity");
    if (!parsed.ok()) return ReportError(parsed.error());
    if (*parsed == 0) {
      return ReportError(
          UsageError("Q2.BM.granularity",
                     "the granularity must be a power of two from "
                     "512 to 2 GiB"));
    }
    granularity = *parsed;
  }
  auto secret = LoadSecret(*args);
  if (!secret.ok()) return ReportError(secret.error());
  auto writer = OpenImageForWriting(args->positional[0],
                                    secret->has_value() ? &**secret : nullptr,
                                    args->Has("--allow-any-path"));
  if (!writer.ok()) return ReportError(writer.error());
  const std::string& name = args->positional[1];
  ImageWriter& w = **writer;
  Status st;
  if (action == "add")
    st = w.BitmapAdd(name, granularity, args->Has("--disable"));
  if (action == "remove") st = w.BitmapRemove(name);
  if (action == "clear") st = w.BitmapClear(name);
  if (action == "enable") st = w.BitmapSetEnabled(name, true);
  if (action == "disable") st = w.BitmapSetEnabled(name, false);
  if (action == "merge") st = w.BitmapMerge(*args->Get("--source"), name);
  if (st.ok()) st = w.Flush();
  if (!st.ok()) return ReportError(st.error());
  return kExitOk;
}

}  // namespace qcow2ref::cli
