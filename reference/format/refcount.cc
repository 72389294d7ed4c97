#include "reference/format/refcount.h"

namespace qcow2ref {

// SPEC(Q2.RC.width): sub-byte entries are packed from the least significant
// bit of each byte; 8..64-bit entries are big-endian.
uint64_t GetRefcount(const uint8_t* block, uint64_t index, uint32_t order) {
  const uint32_t bits = 1u << order;
  if (bits < 8) {
    const uint64_t bit = index * bits;
    const uint8_t byte = block[bit / 8];
    return (byte >> (bit % 8)) & ((1u << bits) - 1);
  }
  const uint32_t bytes = bits / 8;
  const uint8_t* p = block + index * bytes;
  uint64_t v = 0;
  for (uint32_t i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

void SetRefcount(uint8_t* block, uint64_t index, uint32_t order,
                 uint64_t value) {
  const uint32_t bits = 1u << order;
  if (bits < 8) {
    const uint64_t bit = index * bits;
    const uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << (bit % 8));
    uint8_t& byte = block[bit / 8];
    byte = static_cast<uint8_t>((byte & ~mask) | ((value << (bit % 8)) & mask));
    return;
  }
  const uint32_t bytes = bits / 8;
  uint8_t* p = block + index * bytes;
  for (uint32_t i = 0; i < bytes; ++i) {
    p[bytes - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

}  // namespace qcow2ref
