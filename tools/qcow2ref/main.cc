// qcow2ref: a thin command line over the reference library.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/last_resort.h"

namespace {

constexpr const char* kUsage =
    "usage: qcow2ref <command> [options]\n"
    "commands:\n"
    "  info IMAGE [--json] [--follow-references] [--allow-any-path] [SECRET]\n"
    "  map IMAGE [--json] [--follow-references] [--allow-any-path] [SECRET]\n"
    "  read IMAGE [--output FILE] [--offset N] [--length L] [--snapshot NAME]\n"
    "             [--allow-any-path] [SECRET]\n"
    "  luks-dump IMAGE\n"
    "  luks add-key|remove-key|change-key IMAGE SECRET [--new-secret-file F |\n"
    "       --new-secret-env V] [--slot N] [--luks-iterations N]\n"
    "  check IMAGE [--json] [--repair leaks] [SECRET]\n"
    "  layout IMAGE (--svg OUT | --text) [SECRET]\n"
    "  create IMAGE --size BYTES [--version 2|3] [--cluster-size N]\n"
    "         [--refcount-bits N] [--extended-l2] [--compression-type "
    "zlib|zstd]\n"
    "         [--lazy-refcounts] [--backing FILE [--backing-format "
    "raw|qcow2]]\n"
    "         [--data-file FILE [--data-file-raw]] [--encrypt none|aes|luks]\n"
    "         [--luks-cipher SPEC] [--luks-hash H] [--luks-iter-time MS |\n"
    "         --luks-iterations N] [--deterministic-seed HEX] [--from RAW]\n"
    "         [--force] [SECRET]\n"
    "  write IMAGE --offset N --input FILE [--compress] [SECRET]\n"
    "  zero IMAGE --offset N --length L [SECRET]\n"
    "  discard IMAGE --offset N --length L [SECRET]\n"
    "  snapshot create|delete|apply IMAGE NAME [SECRET], snapshot list IMAGE\n"
    "  bitmap add IMAGE NAME [--granularity N] [--disable] [SECRET]\n"
    "  bitmap remove|clear|enable|disable IMAGE NAME [SECRET]\n"
    "  bitmap merge IMAGE TARGET --source NAME [SECRET], bitmap list IMAGE\n"
    "  convert SRC DST [create options] [--compress] [--progress]\n"
    "          [--source-secret-file F | --source-secret-env V] [SECRET]\n"
    "SECRET: --secret-file FILE (its exact bytes) or --secret-env VAR;\n"
    "        never a passphrase on the command line\n"
    "exit codes: 0 ok, 1 image rejected (check: findings), 2 unsupported\n"
    "feature, 3 usage\n";

int Dispatch(int argc, char** argv) {
  using namespace qcow2ref::cli;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string command = argv[1];
  if (command == "info") return RunInfo(argc, argv);
  if (command == "map") return RunMap(argc, argv);
  if (command == "read") return RunRead(argc, argv);
  if (command == "luks-dump") return RunLuksDump(argc, argv);
  if (command == "luks") return RunLuksKeys(argc, argv);
  if (command == "check") return RunCheck(argc, argv);
  if (command == "create") return RunCreate(argc, argv);
  if (command == "write") return RunWrite(argc, argv);
  if (command == "zero") return RunZero(argc, argv);
  if (command == "discard") return RunDiscard(argc, argv);
  if (command == "convert") return RunConvert(argc, argv);
  if (command == "snapshot") return RunSnapshot(argc, argv);
  if (command == "bitmap") return RunBitmap(argc, argv);
  if (command == "layout") return RunLayout(argc, argv);
  std::fputs(kUsage, stderr);
  return UsageFailure("unknown command '" + command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  return qcow2ref::cli::RunGuarded(Dispatch, argc, argv);
}
