// qcow2ref create: a new image, optionally filled from a raw file.
#include <cstdio>
#include <vector>

#include "reference/status/checked_math.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/copy_into.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {

int RunCreate(int argc, char** argv) {
  std::set<std::string> options = CreateOptionNames();
  options.insert("--from");
  auto args = ParseArgs(argc, argv, 2, CreateFlags(), options);
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1 || !args->Get("--size")) {
    return UsageFailure("create IMAGE --size BYTES [options]");
  }
  auto opts = ParseCreateOptions(*args);
  if (!opts.ok()) return ReportError(opts.error());
  auto secret = LoadSecret(*args);
  if (!secret.ok()) return ReportError(secret.error());
  // Read the --from file before creating anything.
  std::unique_ptr<FileSource> from;
  if (auto f = args->Get("--from")) {
    auto src = FileSource::Open(*f);
    if (!src.ok()) return ReportError(src.error());
    from = std::move(src).value();
    // SPEC(QX.WRITE.copy_any_length): a copy never drops source bytes.
    if (DivRoundUp(opts->size, 512) * 512 < from->Size()) {
      return ReportError(UsageError(
          "--size " + std::to_string(opts->size) + " is smaller than --from (" +
          std::to_string(from->Size()) + " bytes): the copy would drop data"));
    }
  }
  const SecretBytes* s = secret->has_value() ? &**secret : nullptr;
  std::set<FileId> inputs;
  if (from) inputs.insert(*from->Identity());
  auto writer =
      CreateImage(args->positional[0], *opts, s, args->Has("--force"), inputs);
  if (!writer.ok()) return ReportError(writer.error());
  if (from) {
    Status st = CopyInto(writer->get(), RawCopySource(*from), false, false);
    if (!st.ok()) return ReportError(st.error());
  }
  return kExitOk;
}

}  // namespace qcow2ref::cli
