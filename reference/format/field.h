// A field of an on-disk structure: where it sits, how wide it is, and the
// clause that gives its value a meaning. Each structure lists its fields
// once (header_fields.h and its siblings); parsing, serializing and the
// offsets that errors report all go through that list.
#ifndef QCOW2REF_REFERENCE_FORMAT_FIELD_H_
#define QCOW2REF_REFERENCE_FORMAT_FIELD_H_

#include <cstdint>

#include "reference/status/endian.h"

namespace qcow2ref {

struct Field {
  const char* name;    // The name the specification uses.
  uint32_t offset;     // Bytes from the start of the structure.
  uint32_t width;      // Bytes.
  const char* clause;  // The clause whose rule governs the value.

  // The first byte after the field.
  constexpr uint32_t end() const { return offset + width; }
};

// The field as placed in a buffer that holds the structure's bytes from
// `start` on: for a run of adjacent fields read or written in one piece.
constexpr Field Rebased(const Field& f, uint32_t start) {
  return Field{f.name, f.offset - start, f.width, f.clause};
}
// The field in a buffer that holds just that field.
constexpr Field Alone(const Field& f) { return Rebased(f, f.offset); }

// The field's bytes inside a structure that starts at `base`.
inline const uint8_t* FieldBytes(const uint8_t* base, const Field& f) {
  return base + f.offset;
}
inline uint8_t* FieldBytes(uint8_t* base, const Field& f) {
  return base + f.offset;
}

// A big-endian integer field (Q2.HDR.big_endian) of 1 to 8 bytes, read from
// or written to the structure that starts at `base`.
template <typename T = uint64_t>
T LoadField(const uint8_t* base, const Field& f) {
  const uint8_t* p = base + f.offset;
  switch (f.width) {
    case 1:
      return static_cast<T>(p[0]);
    case 2:
      return static_cast<T>(LoadBe16(p));
    case 4:
      return static_cast<T>(LoadBe32(p));
    case 8:
      return static_cast<T>(LoadBe64(p));
  }
  uint64_t v = 0;
  for (uint32_t i = 0; i < f.width && i < 8; ++i) v = (v << 8) | p[i];
  return static_cast<T>(v);
}

inline void StoreField(uint8_t* base, const Field& f, uint64_t v) {
  uint8_t* p = base + f.offset;
  switch (f.width) {
    case 1:
      p[0] = static_cast<uint8_t>(v);
      return;
    case 2:
      StoreBe16(p, static_cast<uint16_t>(v));
      return;
    case 4:
      StoreBe32(p, static_cast<uint32_t>(v));
      return;
    case 8:
      StoreBe64(p, v);
      return;
  }
  for (uint32_t i = f.width; i > 0; --i, v >>= 8) {
    if (f.width - i < 8) p[i - 1] = static_cast<uint8_t>(v);
  }
}

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_FIELD_H_
