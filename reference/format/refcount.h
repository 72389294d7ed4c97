// Refcount block entries of every width (1 to 64 bits).
#ifndef QCOW2REF_REFERENCE_FORMAT_REFCOUNT_H_
#define QCOW2REF_REFERENCE_FORMAT_REFCOUNT_H_

#include <cstddef>
#include <cstdint>

namespace qcow2ref {

// Entry `index` of a refcount block with 2^order-bit entries.
uint64_t GetRefcount(const uint8_t* block, uint64_t index, uint32_t order);
void SetRefcount(uint8_t* block, uint64_t index, uint32_t order,
                 uint64_t value);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_REFCOUNT_H_
