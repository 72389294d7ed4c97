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
  std::vector<uint8_t> bytes = initial_;
  auto apply = [&bytes](const Event& e) {
    if (e.flush) return;
    if (bytes.size() < e.offset + e.data.size()) {
      bytes.resize(e.offset + e.data.size(), 0);
    }
    std::memcpy(bytes.data() + e.offset, e.data.data(), e.data.size());
  };
  for (size_t i = 0; i < cut && i < events_.size(); ++i) apply(events_[i]);
  for (size_t i : extra) {
    if (i < events_.size()) apply(events_[i]);
  }
  return bytes;
}

}  // namespace qcow2ref
