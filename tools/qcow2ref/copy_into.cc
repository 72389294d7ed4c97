// Copying a source disk into a new image, following the source's
// allocation.
#include "tools/qcow2ref/copy_into.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <system_error>
#include <vector>

#include "reference/status/checked_math.h"

namespace qcow2ref::cli {

namespace {

// True when the target shows a backing file wherever it has no data: then
// a source range of zeros must be written as zeros (zero clusters), not
// skipped, or the backing file would show through
// (QX.WRITE.copy_zeros_over_backing).
bool Backed(const ImageWriter& writer) {
  return writer.header().backing_file_offset != 0;
}

// Reads [pos, pos + n) of `source` into `out`; bytes past the source's end
// read as zeros.
Status ReadChunk(const CopySource& source, uint64_t pos, uint64_t n,
                 uint8_t* out) {
  // SPEC(QX.WRITE.copy_any_length): bytes past the source's end read as zeros
  // (its last cluster may be partial, or not even a whole sector).
  const uint64_t have = pos < source.size ? std::min(n, source.size - pos) : 0;
  if (have > 0) QCOW2REF_RETURN_IF_ERROR(source.read(pos, out, have));
  std::fill(out + have, out + n, 0);
  return OkStatus();
}

// Copies [from, to) of `source` (cluster aligned, or ending at the disk's
// end) into `writer`. All-zero clusters are skipped so the image stays
// sparse, or written as zeros over a backing file. The next chunk is read
// on another thread while this one is written (the source is read by that
// thread alone, one chunk at a time).
Status CopyRange(ImageWriter* writer, const CopySource& source, uint64_t from,
                 uint64_t to, bool compress, std::vector<uint8_t> (&bufs)[2]) {
  const uint64_t cs = uint64_t{1} << writer->header().cluster_bits;
  const bool backed = Backed(*writer);
  const uint64_t chunk = bufs[0].size();
  auto read_ahead = [&](uint64_t pos, std::vector<uint8_t>* buf) {
    const uint64_t n = std::min<uint64_t>(chunk, to - pos);
    try {
      return std::async(std::launch::async, [&source, pos, n, buf] {
        return ReadChunk(source, pos, n, buf->data());
      });
    } catch (const std::system_error&) {
      // No thread: read it now.
      return std::async(std::launch::deferred, [&source, pos, n, buf] {
        return ReadChunk(source, pos, n, buf->data());
      });
    }
  };
  std::future<Status> reading;
  if (from < to) reading = read_ahead(from, &bufs[0]);
  for (uint64_t pos = from, k = 0; pos < to; ++k) {
    const uint64_t n = std::min<uint64_t>(chunk, to - pos);
    std::vector<uint8_t>& buf = bufs[k % 2];
    QCOW2REF_RETURN_IF_ERROR(reading.get());
    if (pos + n < to) reading = read_ahead(pos + n, &bufs[(k + 1) % 2]);
    // Writes buf[a, b), a run of clusters that are all non-zero or all zero,
    // in one call, so the writer's batches (and flushes) cover many
    // clusters.
    auto emit = [&](uint64_t a, uint64_t b, bool zeros) -> Status {
      if (b <= a) return OkStatus();
      if (zeros) {
        // SPEC(QX.WRITE.copy_zeros_over_backing)
        return backed ? writer->WriteZeroes(pos + a, b - a) : OkStatus();
      }
      return compress ? writer->WriteCompressed(pos + a, buf.data() + a, b - a)
                      : writer->Write(pos + a, buf.data() + a, b - a);
    };
    uint64_t run = 0;  // Start of the current run.
    bool run_zero = false;
    for (uint64_t c = 0; c < n; c += cs) {
      const uint64_t m = std::min(cs, n - c);
      bool zero = true;
      for (uint64_t i = 0; i < m && zero; ++i) zero = buf[c + i] == 0;
      if (c == 0) run_zero = zero;
      if (zero == run_zero) continue;
      QCOW2REF_RETURN_IF_ERROR(emit(run, c, run_zero));
      run = c;
      run_zero = zero;
    }
    QCOW2REF_RETURN_IF_ERROR(emit(run, n, run_zero));
    pos += n;
  }
  return OkStatus();
}

}  // namespace

// Copies `source` into `writer` as far as both go. Only the ranges the
// source says may hold data are read, so
// the cost grows with the data, not the virtual size. Each range is widened
// to whole clusters of the target (a compressed write covers whole
// clusters; the disk's last cluster may be partial), and ranges that then
// touch are merged. Prints a progress bar on a terminal when `progress`.
Status CopyInto(ImageWriter* writer, const CopySource& source, bool compress,
                bool progress) {
  const uint64_t cs = uint64_t{1} << writer->header().cluster_bits;
  const uint64_t size = std::min(source.size, writer->size());
  // 16 MiB (or one cluster, if larger) per read: each Write is one writer
  // batch with one flush barrier, so bigger chunks mean fewer barriers
  // (docs/performance.md). A whole number of clusters.
  std::vector<uint8_t> bufs[2] = {
      std::vector<uint8_t>(std::max<uint64_t>(16ull << 20, cs)),
      std::vector<uint8_t>(std::max<uint64_t>(16ull << 20, cs))};
  uint64_t pending_from = 0, pending_to = 0;
  // Over a backing file, the holes between data ranges are written as
  // zeros too; `covered` is where the copy has reached.
  const bool backed = Backed(*writer);
  const uint64_t copy_end = std::min(DivRoundUp(size, cs) * cs, writer->size());
  uint64_t covered = 0;
  int shown = -1;
  auto copy_pending = [&]() -> Status {
    if (backed && covered < pending_from) {
      // SPEC(QX.WRITE.copy_zeros_over_backing)
      QCOW2REF_RETURN_IF_ERROR(
          writer->WriteZeroes(covered, pending_from - covered));
    }
    QCOW2REF_RETURN_IF_ERROR(
        CopyRange(writer, source, pending_from, pending_to, compress, bufs));
    covered = pending_to;
    if (progress && size > 0) {
      const int pct = static_cast<int>(pending_to * 100 / size);
      if (pct != shown) {
        shown = pct;
        std::fprintf(stderr, "\r    (%3d.00/100%%)", pct);
      }
    }
    return OkStatus();
  };
  // SPEC(QX.WRITE.copy_follows_allocation)
  QCOW2REF_RETURN_IF_ERROR(
      source.for_each_data([&](uint64_t start, uint64_t end) -> Status {
        end = std::min(end, size);
        if (start >= end) return OkStatus();
        start = start / cs * cs;
        end = std::min(DivRoundUp(end, cs) * cs, writer->size());
        if (pending_to > pending_from && start <= pending_to) {
          pending_to = std::max(pending_to, end);
          return OkStatus();
        }
        if (pending_to > pending_from) QCOW2REF_RETURN_IF_ERROR(copy_pending());
        pending_from = start;
        pending_to = end;
        return OkStatus();
      }));
  if (pending_to > pending_from) QCOW2REF_RETURN_IF_ERROR(copy_pending());
  if (backed && covered < copy_end) {
    QCOW2REF_RETURN_IF_ERROR(writer->WriteZeroes(covered, copy_end - covered));
  }
  if (progress) std::fprintf(stderr, "\r    (100.00/100%%)\n");
  return writer->Flush();
}

CopySource RawCopySource(const FileSource& file) {
  CopySource s;
  s.size = file.Size();
  s.read = [&file](uint64_t off, uint8_t* out, uint64_t len) {
    return file.ReadAt(off, out, len);
  };
  s.for_each_data = [&file](const CopySource::Visit& visit) -> Status {
    for (uint64_t pos = 0; pos < file.Size();) {
      QCOW2REF_ASSIGN_OR_RETURN(auto range, file.NextData(pos));
      if (range.first >= range.second) break;
      QCOW2REF_RETURN_IF_ERROR(visit(range.first, range.second));
      pos = range.second;
    }
    return OkStatus();
  };
  return s;
}

}  // namespace qcow2ref::cli
