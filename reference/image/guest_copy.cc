#include "reference/image/guest_copy.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

namespace qcow2ref {
namespace {

// One step of the output, in guest order.
struct Job {
  ResolvedPiece piece;  // Its guest_offset and length are this job's.
  bool needs_cpu() const {
    return piece.source == PieceSource::kEncrypted ||
           piece.source == PieceSource::kSlow;
  }
};

// Splits pieces into jobs; CPU work in chunks, copies and zeros whole.
std::vector<Job> MakeJobs(const std::vector<ResolvedPiece>& pieces,
                          uint64_t chunk) {
  std::vector<Job> jobs;
  for (const ResolvedPiece& p : pieces) {
    const bool split =
        p.source == PieceSource::kEncrypted || p.source == PieceSource::kSlow;
    if (p.source == PieceSource::kError) {
      jobs.push_back(Job{p});
      continue;
    }
    for (uint64_t done = 0; done < p.length;) {
      Job j{p};
      const uint64_t n =
          split ? std::min(chunk, p.length - done) : p.length - done;
      j.piece.guest_offset = p.guest_offset + done;
      j.piece.length = n;
      j.piece.file_offset = p.file_offset + done;
      j.piece.iv_sector = p.iv_sector + done / kSectorSize;
      jobs.push_back(j);
      done += n;
    }
  }
  return jobs;
}

// Runs one window's jobs on up to two threads; each job's output is emitted
// in job order.
class JobRunner {
 public:
  JobRunner(const Image& image, RawSink* sink, std::vector<Job> jobs,
            uint64_t chunk)
      : image_(image), sink_(sink), jobs_(std::move(jobs)), chunk_(chunk) {}

  Status Run(int threads) {
    std::optional<std::thread> helper;
    if (threads > 1 && CpuJobs() > 1) {
      try {
        helper.emplace([this] { Work(); });
      } catch (const std::system_error&) {
        // No second thread: the caller's does everything.
      }
    }
    Work();
    if (helper) helper->join();
    return std::move(status_);
  }

 private:
  size_t CpuJobs() const {
    return static_cast<size_t>(
        std::count_if(jobs_.begin(), jobs_.end(),
                      [](const Job& j) { return j.needs_cpu(); }));
  }

  void Work() {
    std::vector<uint8_t> buf;
    std::map<const SectorCipher*, std::unique_ptr<SectorCipher>> ciphers;
    for (;;) {
      const size_t i = next_.fetch_add(1);
      if (i >= jobs_.size()) return;
      const ResolvedPiece& p = jobs_[i].piece;
      Status made = OkStatus();
      if (jobs_[i].needs_cpu()) {
        buf.resize(std::max<uint64_t>(chunk_, p.length));
        made = Produce(p, buf.data(), &ciphers);
      }
      {
        std::unique_lock<std::mutex> lock(mu_);
        turn_cv_.wait(lock, [&] { return turn_ == i || stop_; });
        if (stop_) return;
      }
      // Only the job whose turn it is emits; the other thread meanwhile
      // produces its next one.
      Status st = made.ok() ? Emit(p, buf.data()) : std::move(made);
      std::lock_guard<std::mutex> lock(mu_);
      if (!st.ok()) {
        status_ = std::move(st);
        stop_ = true;
      }
      ++turn_;
      turn_cv_.notify_all();
      if (stop_) return;
    }
  }

  Status Produce(
      const ResolvedPiece& p, uint8_t* out,
      std::map<const SectorCipher*, std::unique_ptr<SectorCipher>>* ciphers) {
    if (p.source == PieceSource::kSlow) {
      // Image::Read keeps caches (L2 tables, the last inflated cluster).
      std::lock_guard<std::mutex> lock(image_mu_);
      return image_.Read(p.guest_offset, out, p.length);
    }
    std::unique_ptr<SectorCipher>& mine = (*ciphers)[p.cipher];
    if (mine == nullptr) {
      QCOW2REF_ASSIGN_OR_RETURN(mine, p.cipher->Fork());
    }
    QCOW2REF_RETURN_IF_ERROR(p.file->ReadAt(p.file_offset, out, p.length));
    // SPEC(Q2.ENC.payload): the same sectors and IVs as LayerReader's
    // DecryptData, on this thread's own cipher.
    return mine->Decrypt(out, p.length, p.iv_sector);
  }

  Status Emit(const ResolvedPiece& p, const uint8_t* data) {
    switch (p.source) {
      case PieceSource::kZeros:
        return sink_->WriteZeros(p.length);
      case PieceSource::kFile:
        return sink_->Copy(*p.file, p.file_offset, p.length);
      case PieceSource::kError:
        return *p.error;
      case PieceSource::kEncrypted:
      case PieceSource::kSlow:
        break;
    }
    return sink_->Write(data, p.length);
  }

  const Image& image_;
  RawSink* sink_;
  std::vector<Job> jobs_;
  uint64_t chunk_;
  std::mutex image_mu_;
  std::mutex mu_;
  std::condition_variable turn_cv_;
  std::atomic<size_t> next_{0};
  size_t turn_ = 0;
  bool stop_ = false;
  Status status_ = OkStatus();
};

// A window whose mapping fails somewhere: resolved one cluster at a time,
// so that every cluster before the failing one is still copied. The error
// is the mapping's, as Image::Read reports it for any range that holds the
// fault (it maps before it reads), even when a cluster before it fails to
// read; only a failing output (an I/O error) is reported instead.
Status CopyUpToMapError(const Image& image, uint64_t offset, uint64_t length,
                        RawSink* sink, const GuestCopyOptions& options,
                        Error window_error) {
  const uint64_t cs = image.geometry().cluster_size;
  std::vector<ResolvedPiece> pieces;
  Status failed = std::move(window_error);
  for (uint64_t pos = offset; pos < offset + length;) {
    const uint64_t n = std::min(cs - pos % cs, offset + length - pos);
    auto one = image.Resolve(pos, n);
    if (!one.ok()) {
      failed = one.take_error();
      break;
    }
    pieces.insert(pieces.end(), one->begin(), one->end());
    pos += n;
  }
  JobRunner runner(image, sink, MakeJobs(pieces, options.chunk), options.chunk);
  Status copied = runner.Run(options.threads);
  if (!copied.ok() && copied.error().kind == ErrorKind::kIo) return copied;
  return failed;
}

// The finest unit any layer of the chain maps (a cluster, or a subcluster
// with extended L2).
uint64_t FinestMappingUnit(const Image& top) {
  uint64_t unit = UINT64_MAX;
  for (const Image* i = &top; i != nullptr; i = i->backing_image()) {
    const Geometry& g = i->geometry();
    unit = std::min(unit, g.extended_l2 ? g.subcluster_size : g.cluster_size);
  }
  return unit;
}

Status CopyWindows(const Image& image, uint64_t offset, uint64_t length,
                   RawSink* sink, const GuestCopyOptions& options) {
  // Windows of 16384 of the chain's finest mapping units bound the pieces
  // held at once by what the images' own tables can describe (at most
  // 16384 boundaries per layer), never by the length asked for: a backing
  // file with 512-byte clusters under an image with 2 MiB ones must not
  // make one window hold 2^26 pieces.
  const uint64_t window = FinestMappingUnit(image) * 16384;
  for (uint64_t done = 0; done < length;) {
    const uint64_t n = std::min(window, length - done);
    auto pieces = image.Resolve(offset + done, n);
    if (!pieces.ok()) {
      return CopyUpToMapError(image, offset + done, n, sink, options,
                              pieces.take_error());
    }
    JobRunner runner(image, sink, MakeJobs(*pieces, options.chunk),
                     options.chunk);
    QCOW2REF_RETURN_IF_ERROR(runner.Run(options.threads));
    done += n;
  }
  return OkStatus();
}

}  // namespace

Status CopyGuestRange(const Image& image, uint64_t offset, uint64_t length,
                      RawSink* sink, const GuestCopyOptions& options) {
  // Encrypted jobs must be whole sectors: a chunk is rounded down to them.
  GuestCopyOptions o = options;
  o.chunk =
      std::max<uint64_t>(kSectorSize, o.chunk / kSectorSize * kSectorSize);
  o.threads = std::max(1, o.threads);
  Status copied = CopyWindows(image, offset, length, sink, o);
  // Also after an error: a hole written so far becomes part of the file and
  // the descriptor is left after it, as if every byte had been written.
  Status finished = sink->Finish();
  return copied.ok() ? finished : copied;
}

}  // namespace qcow2ref
