// A store that records every write and flush, for crash tests: a crash
// after any write (and with writes reordered between flushes) is replayed
// onto a copy of the starting bytes.
#ifndef QCOW2REF_REFERENCE_IO_CRASH_STORE_H_
#define QCOW2REF_REFERENCE_IO_CRASH_STORE_H_

#include <cstdint>
#include <vector>

#include "reference/io/byte_store.h"

namespace qcow2ref {

class CrashStore : public ByteStore {
 public:
  struct Event {
    bool flush = false;
    uint64_t offset = 0;
    std::vector<uint8_t> data;
  };

  explicit CrashStore(std::vector<uint8_t> initial)
      : initial_(initial), live_(std::move(initial)) {}

  uint64_t Size() const override { return live_.Size(); }
  Status ReadAt(uint64_t offset, uint8_t* out, size_t length) const override {
    return live_.ReadAt(offset, out, length);
  }
  std::string Name() const override { return "<crash>"; }
  Status WriteAt(uint64_t offset, const uint8_t* data, size_t length) override;
  Status Flush() override;

  const std::vector<Event>& events() const { return events_; }
  const std::vector<uint8_t>& live() const { return live_.bytes(); }
  // Index into events() where the store was when `Mark` was called.
  size_t Mark() const { return events_.size(); }

  // The bytes after applying events [0, cut) in order, plus, from the
  // writes in [cut, next flush), those selected by `extra` (indexes into
  // events(); they land too, out of order).
  std::vector<uint8_t> Replay(size_t cut,
                              const std::vector<size_t>& extra = {}) const;
  // As Replay, and then only the first `bytes` bytes of write `torn` land
  // (a torn write: the power failed while it was transferred).
  std::vector<uint8_t> ReplayTorn(size_t cut, const std::vector<size_t>& extra,
                                  size_t torn, size_t bytes) const;

 private:
  std::vector<uint8_t> initial_;
  MemoryStore live_;
  std::vector<Event> events_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_CRASH_STORE_H_
