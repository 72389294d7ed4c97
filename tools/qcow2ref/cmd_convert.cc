// qcow2ref convert: qcow2 or raw in (following backing chains), any qcow2
// out, with the create options.
#include <unistd.h>

#include "reference/format/header.h"
#include "reference/format/header_fields.h"
#include "reference/image/guest_map.h"
#include "reference/status/checked_math.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/copy_into.h"
#include "tools/qcow2ref/open_image.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {

int RunConvert(int argc, char** argv) {
  std::set<std::string> flags = CreateFlags();
  flags.insert({"--compress", "--progress", "--allow-any-path"});
  std::set<std::string> names = CreateOptionNames();
  names.insert({"--source-secret-file", "--source-secret-env"});
  auto args = ParseArgs(argc, argv, 2, flags, names);
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 2) {
    return UsageFailure(
        "convert SRC DST [create options] [--compress] [--progress]");
  }
  const std::string& src = args->positional[0];
  const std::string& dst = args->positional[1];
  auto opts = ParseCreateOptions(*args);
  if (!opts.ok()) return ReportError(opts.error());
  // The source: qcow2 when it has the magic, raw otherwise.
  auto raw = FileSource::Open(src);
  if (!raw.ok()) return ReportError(raw.error());
  constexpr Field kMagic = HeaderField::kMagic;
  uint8_t magic[kMagic.end()] = {};
  const bool is_qcow2 = (*raw)->Size() >= kMagic.end() &&
                        (*raw)->ReadAt(0, magic, sizeof(magic)).ok() &&
                        LoadField(magic, kMagic) == kQcow2Magic;
  Args source_args = *args;
  source_args.options.erase("--secret-file");
  source_args.options.erase("--secret-env");
  if (auto f = args->Get("--source-secret-file"))
    source_args.options["--secret-file"] = *f;
  if (auto e = args->Get("--source-secret-env"))
    source_args.options["--secret-env"] = *e;
  OpenedImage source;
  uint64_t size = (*raw)->Size();
  if (is_qcow2) {
    auto opened = OpenImageArg(source_args, src, true);
    if (!opened.ok()) return ReportError(opened.error());
    source = std::move(opened).value();
    size = source.image->guest_size();
  }
  if (opts->size == 0) opts->size = size;
  // SPEC(QX.WRITE.copy_any_length): a copy never drops source bytes.
  if (DivRoundUp(opts->size, 512) * 512 < size) {
    return ReportError(UsageError("--size " + std::to_string(opts->size) +
                                  " is smaller than the source (" +
                                  std::to_string(size) +
                                  " bytes): the copy would drop data"));
  }
  if (args->Has("--compress") && opts->encryption != Encryption::kNone) {
    return ReportError(
        UsageError("QX.WRITE.no_compressed_encryption",
                   "compression and encryption together would store "
                   "compressed clusters in plaintext: refused"));
  }
  auto secret = LoadSecret(*args);
  if (!secret.ok()) return ReportError(secret.error());
  // SPEC(QX.CLI.output_not_input): the source, its chain and data files.
  std::set<FileId> inputs = {*(*raw)->Identity()};
  if (is_qcow2) inputs = source.image->chain_files();
  inputs.insert(*(*raw)->Identity());
  auto writer =
      CreateImage(dst, *opts, secret->has_value() ? &**secret : nullptr,
                  args->Has("--force"), inputs);
  if (!writer.ok()) return ReportError(writer.error());
  const bool progress = args->Has("--progress") && isatty(2);
  CopySource from = RawCopySource(**raw);
  if (is_qcow2) {
    const Image& image = *source.image;
    from.size = size;
    from.read = [&image](uint64_t off, uint8_t* out, uint64_t len) {
      return image.Read(off, out, len);
    };
    // The source's allocation map, backing files included: ranges that read
    // as zeros (zero clusters, unallocated without backing) are skipped.
    from.for_each_data = [&image](const CopySource::Visit& visit) {
      return ForEachMapEntry(image, 0, image.guest_size(),
                             [&](const MapEntry& m) -> Status {
                               if (!m.data || m.zero) return OkStatus();
                               return visit(m.start, m.start + m.length);
                             });
    };
  }
  Status st = CopyInto(writer->get(), from, args->Has("--compress"), progress);
  if (!st.ok()) return ReportError(st.error());
  return kExitOk;
}

}  // namespace qcow2ref::cli
