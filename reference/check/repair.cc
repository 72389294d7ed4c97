#include "reference/check/repair.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "reference/format/header.h"
#include "reference/format/refcount.h"
#include "reference/status/endian.h"

namespace qcow2ref {
namespace {

Status PreadAll(int fd, uint8_t* buf, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, off + done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return IoError(std::string("read failed: ") + std::strerror(errno));
    done += static_cast<size_t>(r);
  }
  return OkStatus();
}

Status PwriteAll(int fd, const uint8_t* buf, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd, buf + done, n - done, off + done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return IoError(std::string("write failed: ") + std::strerror(errno));
    done += static_cast<size_t>(r);
  }
  return OkStatus();
}

}  // namespace

Result<uint64_t> RepairLeaks(const std::string& path,
                             const CheckReport& report) {
  // SPEC(QX.CHECK.repair_leaks_only)
  if (report.check_errors || report.Count(Severity::kCorruption) > 0) {
    return Rejected("QX.CHECK.repair_leaks_only", std::nullopt,
                    "the image has corruptions; only leaks can be repaired "
                    "and only on an otherwise consistent image");
  }
  if (report.leaks.empty()) return uint64_t{0};
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return IoError("cannot open " + path +
                   " for writing: " + std::strerror(errno));
  }
  // The header with everything up to header_length (at most one cluster).
  std::vector<uint8_t> hb(
      std::min<uint64_t>(report.image_end_offset, uint64_t{1} << 21));
  Status st = PreadAll(fd, hb.data(), hb.size(), 0);
  Result<Header> h =
      st.ok() ? ParseHeader(hb.data(), hb.size()) : Result<Header>(st.error());
  if (!h.ok()) {
    ::close(fd);
    return h.error();
  }
  const uint64_t cs = h->cluster_size();
  const uint64_t per_block = (cs * 8) >> h->refcount_order;
  // Group leaks by refcount block; decrements need no ordering among
  // themselves: every intermediate state only has fewer leaks.
  std::map<uint64_t, std::vector<CheckReport::Leak>> by_block;
  for (const auto& l : report.leaks)
    by_block[l.cluster_index / per_block].push_back(l);
  uint64_t repaired = 0;
  std::vector<uint8_t> block(cs);
  for (const auto& [index, leaks] : by_block) {
    uint8_t e[8];
    st = PreadAll(fd, e, 8, h->refcount_table_offset + 8 * index);
    if (!st.ok()) break;
    const uint64_t off = LoadBe64(e) & ~uint64_t{0x1ff};
    st = PreadAll(fd, block.data(), cs, off);
    if (!st.ok()) break;
    for (const auto& l : leaks) {
      const uint64_t j = l.cluster_index % per_block;
      // Only ever lower a count, and only from the value the check saw.
      if (GetRefcount(block.data(), j, h->refcount_order) != l.stored ||
          l.computed >= l.stored) {
        continue;
      }
      SetRefcount(block.data(), j, h->refcount_order, l.computed);
      ++repaired;
    }
    st = PwriteAll(fd, block.data(), cs, off);
    if (!st.ok()) break;
  }
  if (st.ok() && ::fsync(fd) != 0) {
    st = IoError(std::string("fsync failed: ") + std::strerror(errno));
  }
  ::close(fd);
  if (!st.ok()) return st.error();
  return repaired;
}

}  // namespace qcow2ref
