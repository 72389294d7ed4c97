// qcow2ref create: a new image, optionally filled from a raw file.
#include <cstdio>
#include <vector>

#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/writer_args.h"

namespace qcow2ref::cli {

// Copies `source` (guest bytes from `read`) into `writer`, skipping
// all-zero clusters so the image stays sparse. Prints a progress bar on a
// terminal when `progress`.
Status CopyInto(ImageWriter* writer, uint64_t size,
                const std::function<Status(uint64_t, uint8_t*, uint64_t)>& read,
                bool compress, bool progress) {
  const uint64_t cs = uint64_t{1} << writer->header().cluster_bits;
  // 16 MiB (or one cluster, if larger) per read: each Write below is one
  // writer batch with one flush barrier, so bigger chunks mean fewer
  // barriers (docs/performance.md).
  const uint64_t chunk = std::max<uint64_t>(16ull << 20, cs);
  std::vector<uint8_t> buf(chunk);
  int shown = -1;
  for (uint64_t pos = 0; pos < size;) {
    const uint64_t n = std::min(chunk, size - pos);
    QCOW2REF_RETURN_IF_ERROR(read(pos, buf.data(), n));
    // Runs of non-zero clusters go to the writer in one call, so its
    // batches (and flushes) cover many clusters.
    uint64_t run = 0;  // Start of the current run of non-zero clusters.
    for (uint64_t c = 0; c <= n; c += cs) {
      bool zero = true;
      if (c < n) {
        const uint64_t m = std::min(cs, n - c);
        for (uint64_t i = 0; i < m && zero; ++i) zero = buf[c + i] == 0;
      }
      if (!zero) continue;
      if (c > run) {
        const uint64_t len = std::min(c, n) - run;
        if (compress) {
          QCOW2REF_RETURN_IF_ERROR(
              writer->WriteCompressed(pos + run, buf.data() + run, len));
        } else {
          QCOW2REF_RETURN_IF_ERROR(
              writer->Write(pos + run, buf.data() + run, len));
        }
      }
      run = c + cs;
    }
    pos += n;
    if (progress) {
      const int pct = static_cast<int>(pos * 100 / size);
      if (pct != shown) {
        shown = pct;
        std::fprintf(stderr, "\r    (%3d.00/100%%)", pct);
      }
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  return writer->Flush();
}

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
  }
  const SecretBytes* s = secret->has_value() ? &**secret : nullptr;
  auto writer =
      CreateImage(args->positional[0], *opts, s, args->Has("--force"));
  if (!writer.ok()) return ReportError(writer.error());
  if (from) {
    const uint64_t n = std::min(from->Size(), (*writer)->size());
    Status st = CopyInto(
        writer->get(), n,
        [&](uint64_t off, uint8_t* out, uint64_t len) {
          return from->ReadAt(off, out, len);
        },
        false, false);
    if (!st.ok()) return ReportError(st.error());
  }
  return kExitOk;
}

}  // namespace qcow2ref::cli
