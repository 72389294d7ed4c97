// qcow2ref luks add-key | remove-key | change-key: LUKS key slots, like
// `qemu-img amend` with encrypt.keyslot / encrypt.state.
#include <cstdio>

#include "reference/writer/luks_keys.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"

namespace qcow2ref::cli {

int RunLuksKeys(int argc, char** argv) {
  if (argc < 3) {
    return UsageFailure("luks add-key|remove-key|change-key IMAGE ...");
  }
  const std::string action = argv[2];
  auto args = ParseArgs(
      argc, argv, 3, {},
      {"--secret-file", "--secret-env", "--new-secret-file", "--new-secret-env",
       "--slot", "--luks-iterations", "--luks-iter-time"});
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1 ||
      (action != "add-key" && action != "remove-key" &&
       action != "change-key")) {
    return UsageFailure(
        "luks add-key|remove-key|change-key IMAGE --secret-file F "
        "[--new-secret-file F2] [--slot N] [--luks-iterations N]");
  }
  auto secret = LoadSecret(*args);
  if (!secret.ok()) return ReportError(secret.error());
  if (!secret->has_value()) {
    return UsageFailure("the current passphrase is needed (--secret-file)");
  }
  Args fresh;
  if (auto f = args->Get("--new-secret-file"))
    fresh.options["--secret-file"] = *f;
  if (auto e = args->Get("--new-secret-env"))
    fresh.options["--secret-env"] = *e;
  auto added = LoadSecret(fresh);
  if (!added.ok()) return ReportError(added.error());
  if (action != "remove-key" && !added->has_value()) {
    return UsageFailure(action +
                        " needs --new-secret-file or --new-secret-env");
  }
  KeySlotOptions opts;
  if (auto s = args->Get("--slot")) {
    auto v = ParseSize(*s, "--slot");
    if (!v.ok()) return ReportError(v.error());
    opts.slot = static_cast<int>(std::min<uint64_t>(*v, 99));
  }
  if (auto n = args->Get("--luks-iterations")) {
    auto v = ParseSize(*n, "--luks-iterations");
    if (!v.ok() || *v == 0 || *v > UINT32_MAX) {
      return UsageFailure("--luks-iterations out of range");
    }
    opts.iterations = static_cast<uint32_t>(*v);
  }
  if (auto t = args->Get("--luks-iter-time")) {
    auto v = ParseSize(*t, "--luks-iter-time");
    if (!v.ok()) return ReportError(v.error());
    opts.iter_time_ms = static_cast<uint32_t>(std::min<uint64_t>(*v, 600000));
  }
  auto store = FileStore::Open(args->positional[0], false, false);
  if (!store.ok()) return ReportError(store.error());
  Result<int> r = UsageError("unreachable");
  if (action == "add-key") {
    r = LuksAddKey(store->get(), **secret, **added, opts);
  } else if (action == "remove-key") {
    r = LuksRemoveKey(store->get(), **secret, opts.slot);
  } else {
    r = LuksChangeKey(store->get(), **secret, **added, opts);
  }
  if (!r.ok()) return ReportError(r.error());
  std::printf("%s: key slot %d\n", action.c_str(), *r);
  return kExitOk;
}

}  // namespace qcow2ref::cli
