// qcow2ref write / zero / discard: guest writes into an existing image.
#include <vector>

#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {
namespace {

enum class Op { kWrite, kZero, kDiscard };

int RunOp(int argc, char** argv, Op op) {
  std::set<std::string> flags = {"--allow-any-path", "--compress"};
  std::set<std::string> names = {"--offset", "--length", "--input",
                                 "--secret-file", "--secret-env"};
  auto args = ParseArgs(argc, argv, 2, flags, names);
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1 || !args->Get("--offset") ||
      (op == Op::kWrite ? !args->Get("--input") : !args->Get("--length"))) {
    return UsageFailure(op == Op::kWrite
                            ? "write IMAGE --offset N --input FILE [--compress]"
                            : "zero|discard IMAGE --offset N --length L");
  }
  auto offset = ParseSize(*args->Get("--offset"), "--offset");
  if (!offset.ok()) return ReportError(offset.error());
  std::vector<uint8_t> data;
  uint64_t length = 0;
  if (op == Op::kWrite) {
    auto in = FileSource::Open(*args->Get("--input"));
    if (!in.ok()) return ReportError(in.error());
    data.resize((*in)->Size());
    Status st = (*in)->ReadAt(0, data.data(), data.size());
    if (!st.ok()) return ReportError(st.error());
    length = data.size();
  } else {
    auto l = ParseSize(*args->Get("--length"), "--length");
    if (!l.ok()) return ReportError(l.error());
    length = *l;
  }
  auto secret = LoadSecret(*args);
  if (!secret.ok()) return ReportError(secret.error());
  auto writer = OpenImageForWriting(args->positional[0],
                                    secret->has_value() ? &**secret : nullptr,
                                    args->Has("--allow-any-path"));
  if (!writer.ok()) return ReportError(writer.error());
  Status st;
  switch (op) {
    case Op::kWrite:
      st = args->Has("--compress")
               ? (*writer)->WriteCompressed(*offset, data.data(), length)
               : (*writer)->Write(*offset, data.data(), length);
      break;
    case Op::kZero:
      st = (*writer)->WriteZeroes(*offset, length);
      break;
    case Op::kDiscard:
      st = (*writer)->Discard(*offset, length);
      break;
  }
  if (st.ok()) st = (*writer)->Flush();
  if (!st.ok()) return ReportError(st.error());
  return kExitOk;
}

}  // namespace

int RunWrite(int argc, char** argv) { return RunOp(argc, argv, Op::kWrite); }
int RunZero(int argc, char** argv) { return RunOp(argc, argv, Op::kZero); }
int RunDiscard(int argc, char** argv) {
  return RunOp(argc, argv, Op::kDiscard);
}

}  // namespace qcow2ref::cli
