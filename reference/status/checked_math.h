// Overflow-checked unsigned arithmetic for offsets, sizes and counts read from
// untrusted images.
#ifndef QCOW2REF_REFERENCE_STATUS_CHECKED_MATH_H_
#define QCOW2REF_REFERENCE_STATUS_CHECKED_MATH_H_

#include <cstdint>
#include <optional>

namespace qcow2ref {

inline std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> CheckedMul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// True when [offset, offset + length) lies inside [0, limit).
inline bool RangeWithin(uint64_t offset, uint64_t length, uint64_t limit) {
  return offset <= limit && length <= limit - offset;
}

inline uint64_t DivRoundUp(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_STATUS_CHECKED_MATH_H_
