// qcow2ref snapshot create|delete|apply|list: internal snapshots.
#include <cstdio>

#include "reference/image/image.h"
#include "reference/status/text_escape.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {
namespace {

// SPEC(QX.CLI.snapshot_list_read_only): the reader alone, read-only, no
// referenced file, no passphrase; a dirty image lists like any other.
int ListSnapshots(const std::string& path) {
  auto image = Image::Open(path, OpenOptions());
  if (!image.ok()) return ReportError(image.error());
  std::printf("%-6s %-24s %12s %12s\n", "ID", "TAG", "DATE-SEC", "DISK-SIZE");
  for (const Snapshot& s : (*image)->snapshots()) {
    // SPEC(QX.CLI.control_escape): ids and names are bytes.
    std::printf("%-6s %-24s %12u %12llu\n", EscapeForTerminal(s.id).c_str(),
                EscapeForTerminal(s.name).c_str(), s.date_sec,
                static_cast<unsigned long long>(s.disk_size.value_or(0)));
  }
  return kExitOk;
}

}  // namespace

int RunSnapshot(int argc, char** argv) {
  if (argc < 3)
    return UsageFailure("snapshot create|delete|apply|list IMAGE [NAME]");
  const std::string action = argv[2];
  auto args = ParseArgs(argc, argv, 3, {"--allow-any-path"},
                        {"--secret-file", "--secret-env"});
  if (!args.ok()) return ReportError(args.error());
  const bool list = action == "list";
  if ((action != "create" && action != "delete" && action != "apply" &&
       !list) ||
      args->positional.size() != (list ? 1u : 2u)) {
    return UsageFailure(
        "snapshot create|delete|apply IMAGE NAME, or snapshot list IMAGE");
  }
  if (list) return ListSnapshots(args->positional[0]);
  auto secret = LoadSecret(*args);
  if (!secret.ok()) return ReportError(secret.error());
  auto writer = OpenImageForWriting(args->positional[0],
                                    secret->has_value() ? &**secret : nullptr,
                                    args->Has("--allow-any-path"));
  if (!writer.ok()) return ReportError(writer.error());
  Status st;
  if (action == "create") st = (*writer)->SnapshotCreate(args->positional[1]);
  if (action == "delete") st = (*writer)->SnapshotDelete(args->positional[1]);
  if (action == "apply") st = (*writer)->SnapshotApply(args->positional[1]);
  if (st.ok()) st = (*writer)->Flush();
  if (!st.ok()) return ReportError(st.error());
  return kExitOk;
}

}  // namespace qcow2ref::cli
