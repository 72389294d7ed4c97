// The header extensions, field by field (Q2.HDR.big_endian): the record
// every extension starts with, then the data of the extensions whose data
// has fixed fields. Offsets inside an extension's data count from the end
// of its record header.
#ifndef QCOW2REF_REFERENCE_FORMAT_EXTENSION_FIELDS_H_
#define QCOW2REF_REFERENCE_FORMAT_EXTENSION_FIELDS_H_

#include "reference/format/field.h"

namespace qcow2ref {

// Each extension: its type, its data length, then the data padded to 8.
struct ExtensionField {
  // What the extension holds; 0 ends the list.
  static constexpr Field kType{"type", 0, 4, "Q2.EXT.end_marker"};
  // Bytes of data, padding excluded.
  static constexpr Field kLength{"length", 4, 4, "Q2.EXT.bounds"};
};
inline constexpr Field kExtensionFields[] = {ExtensionField::kType,
                                             ExtensionField::kLength};
// Where an extension's data starts, from the start of its record.
inline constexpr uint32_t kExtensionDataStart = ExtensionField::kLength.end();

// An entry of the feature name table, one per named feature bit.
struct FeatureNameField {
  // 0 incompatible, 1 compatible, 2 autoclear.
  static constexpr Field kType{"type", 0, 1, "Q2.FNT.type"};
  // The bit's number within that feature field.
  static constexpr Field kBit{"bit", 1, 1, "Q2.FNT.type"};
  // The name, padded with NULs (no terminator when it fills the field).
  static constexpr Field kName{"name", 2, 46, "Q2.FNT.entry_size"};
};
inline constexpr Field kFeatureNameFields[] = {
    FeatureNameField::kType, FeatureNameField::kBit, FeatureNameField::kName};
inline constexpr uint32_t kFeatureNameEntrySize = FeatureNameField::kName.end();

// The bitmaps extension: where the bitmap directory is.
struct BitmapsExtensionField {
  // Bitmaps in the directory.
  static constexpr Field kNbBitmaps{"nb_bitmaps", 0, 4, "Q2.BMX.nb_bitmaps"};
  // Must be zero.
  static constexpr Field kReserved{"reserved", 4, 4, "Q2.BMX.reserved_zero"};
  // Bytes of the directory.
  static constexpr Field kDirectorySize{"bitmap_directory_size", 8, 8,
                                        "Q2.BMX.directory_size.max"};
  // Host offset of the directory.
  static constexpr Field kDirectoryOffset{"bitmap_directory_offset", 16, 8,
                                          "Q2.BMX.directory_offset.aligned"};
};
inline constexpr Field kBitmapsExtensionFields[] = {
    BitmapsExtensionField::kNbBitmaps, BitmapsExtensionField::kReserved,
    BitmapsExtensionField::kDirectorySize,
    BitmapsExtensionField::kDirectoryOffset};
inline constexpr uint32_t kBitmapsExtensionSize =
    BitmapsExtensionField::kDirectoryOffset.end();

// The full disk encryption header pointer: where the LUKS area is.
struct FdePointerField {
  // Host offset of the LUKS header.
  static constexpr Field kOffset{"offset", 0, 8, "Q2.FDE.offset.aligned"};
  // Bytes of the LUKS area.
  static constexpr Field kLength{"length", 8, 8,
                                 "Q2.FDE.length_covers_key_material"};
};
inline constexpr Field kFdePointerFields[] = {FdePointerField::kOffset,
                                              FdePointerField::kLength};
inline constexpr uint32_t kFdePointerSize = FdePointerField::kLength.end();

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_EXTENSION_FIELDS_H_
