// qcow2ref write / zero / discard: guest writes into an existing image.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {
namespace {

enum class Op { kWrite, kZero, kDiscard };

constexpr uint64_t kInputChunk = 4ull << 20;

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
  std::unique_ptr<ByteSource> input;
  uint64_t length = 0;
  if (op == Op::kWrite) {
    auto in = FileSource::Open(*args->Get("--input"));
    if (!in.ok()) return ReportError(in.error());
    input = std::move(in).value();
    length = input->Size();
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
  // The whole request is judged before its first chunk is written.
  Status st = (*writer)->CheckWrite(
      *offset, length, op == Op::kWrite && args->Has("--compress"));
  if (!st.ok()) return ReportError(st.error());
  switch (op) {
    case Op::kWrite: {
      // The input is streamed in chunks (a multiple of every cluster size,
      // so compressed chunks stay cluster aligned): memory stays bounded
      // however large the file is.
      std::vector<uint8_t> buf(std::min<uint64_t>(kInputChunk, length));
      for (uint64_t done = 0; st.ok() && done < length;) {
        const uint64_t n = std::min<uint64_t>(buf.size(), length - done);
        st = input->ReadAt(done, buf.data(), n);
        if (!st.ok()) break;
        st = args->Has("--compress")
                 ? (*writer)->WriteCompressed(*offset + done, buf.data(), n)
                 : (*writer)->Write(*offset + done, buf.data(), n);
        done += n;
      }
      break;
    }
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
