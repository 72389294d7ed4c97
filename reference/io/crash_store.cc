#include "reference/io/crash_store.h"

#include <algorithm>
#include <cstring>

namespace qcow2ref {

Status CrashStore::WriteAt(uint64_t offset, const uint8_t* data,
                           size_t length) {
  events_.push_back({false, offset, std::vector<uint8_t>(data, data + length)});
  return live_.WriteAt(offset, data, length);
}

Status CrashStore::Flush() {
  events_.push_back({true, 0, {}});
  return OkStatus();
}

std::vector<uint8_t> CrashStore::Replay(
    size_t cut, const std::vector<size_t>& extra) const {
  return ReplayTorn(cut, extra, events_.size(), 0);
}

std::vector<uint8_t> CrashStore::ReplayTorn(size_t cut,
                                            const std::vector<size_t>& extra,
                                            size_t torn, size_t bytes) const {
  std::vector<uint8_t> out = initial_;
  auto apply = [&out](const Event& e, size_t n) {
    if (e.flush || n == 0) return;
    if (out.size() < e.offset + n) out.resize(e.offset + n, 0);
    std::memcpy(out.data() + e.offset, e.data.data(), n);
  };
  for (size_t i = 0; i < cut && i < events_.size(); ++i) {
    apply(events_[i], events_[i].data.size());
  }
  for (size_t i : extra) {
    if (i < events_.size()) apply(events_[i], events_[i].data.size());
  }
  if (torn < events_.size()) {
    apply(events_[torn], std::min(bytes, events_[torn].data.size()));
  }
  return out;
}

}  // namespace qcow2ref
