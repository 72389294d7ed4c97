#include "reference/format/extensions.h"

#include <set>

#include "reference/format/extension_fields.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

using BmxF = BitmapsExtensionField;
using ExtF = ExtensionField;
using FdeF = FdePointerField;
using FntF = FeatureNameField;

// Where a field of an extension's data lies in the file, for an extension
// whose record starts at `at`.
uint64_t DataFieldAt(uint64_t at, const Field& f) {
  return at + kExtensionDataStart + f.offset;
}

Status ParseFeatureNames(const uint8_t* d, uint32_t len, uint64_t at,
                         Extensions* e) {
  // SPEC(Q2.FNT.entry_size)
  if (len % kFeatureNameEntrySize != 0) {
    return Rejected("Q2.FNT.entry_size", at,
                    "feature name table length " + std::to_string(len) +
                        " is not a multiple of 48");
  }
  e->has_feature_table = true;
  for (size_t i = 0; i < len; i += kFeatureNameEntrySize) {
    FeatureName f;
    f.type = LoadField<uint8_t>(d + i, FntF::kType);
    f.bit = LoadField<uint8_t>(d + i, FntF::kBit);
    const char* name =
        reinterpret_cast<const char*>(FieldBytes(d + i, FntF::kName));
    size_t n = 0;
    while (n < FntF::kName.width && name[n] != '\0') ++n;
    f.name.assign(name, n);
    e->feature_names.push_back(std::move(f));
  }
  return OkStatus();
}

Status ParseBitmaps(const Header& h, const uint8_t* d, uint32_t len,
                    uint64_t at, Extensions* e) {
  // SPEC(Q2.BMX.length)
  if (len != kBitmapsExtensionSize) {
    return Rejected(
        "Q2.BMX.length", at,
        "bitmaps extension length " + std::to_string(len) + " is not 24");
  }
  BitmapsExtension b;
  b.nb_bitmaps = LoadField<uint32_t>(d, BmxF::kNbBitmaps);
  const uint32_t reserved = LoadField<uint32_t>(d, BmxF::kReserved);
  b.directory_size = LoadField(d, BmxF::kDirectorySize);
  b.directory_offset = LoadField(d, BmxF::kDirectoryOffset);
  // SPEC(Q2.BMX.reserved_zero)
  if (reserved != 0) {
    return Rejected("Q2.BMX.reserved_zero", DataFieldAt(at, BmxF::kReserved),
                    "bitmaps extension reserved field is not zero");
  }
  // SPEC(Q2.BMX.nb_bitmaps)
  if (b.nb_bitmaps == 0 || b.nb_bitmaps > kMaxBitmaps) {
    return Rejected(
        "Q2.BMX.nb_bitmaps", DataFieldAt(at, BmxF::kNbBitmaps),
        "nb_bitmaps " + std::to_string(b.nb_bitmaps) + " is outside 1..65535");
  }
  // SPEC(Q2.BMX.directory_size.max)
  if (b.directory_size > kMaxBitmapDirectoryBytes) {
    return Rejected("Q2.BMX.directory_size.max",
                    DataFieldAt(at, BmxF::kDirectorySize),
                    "bitmap directory size " +
                        std::to_string(b.directory_size) + " is too large");
  }
  // SPEC(Q2.BMX.directory_offset.aligned)
  if (b.directory_offset % h.cluster_size() != 0) {
    return Rejected("Q2.BMX.directory_offset.aligned",
                    DataFieldAt(at, BmxF::kDirectoryOffset),
                    "bitmap directory offset is not cluster aligned");
  }
  e->bitmaps = b;
  return OkStatus();
}

Status ParseFde(const Header& h, const uint8_t* d, uint32_t len, uint64_t at,
                Extensions* e) {
  // SPEC(Q2.FDE.only_luks)
  if (h.crypt_method != CryptMethod::kLuks) {
    return Rejected("Q2.FDE.only_luks", at,
                    "full disk encryption header pointer with crypt_method " +
                        std::to_string(static_cast<uint32_t>(h.crypt_method)));
  }
  // SPEC(Q2.FDE.length)
  if (len != kFdePointerSize) {
    return Rejected("Q2.FDE.length", at,
                    "full disk encryption header pointer length " +
                        std::to_string(len) + " is not 16");
  }
  FdePointer f{LoadField(d, FdeF::kOffset), LoadField(d, FdeF::kLength)};
  // SPEC(Q2.FDE.offset.aligned)
  if (f.offset % h.cluster_size() != 0) {
    return Rejected("Q2.FDE.offset.aligned", DataFieldAt(at, FdeF::kOffset),
                    "encryption header offset is not cluster aligned");
  }
  e->fde = f;
  return OkStatus();
}

void AppendExtension(std::vector<uint8_t>* out, uint32_t type,
                     const uint8_t* data, size_t len) {
  size_t at = out->size();
  out->resize(at + kExtensionDataStart + ((len + 7) & ~size_t{7}), 0);
  StoreField(out->data() + at, ExtF::kType, type);
  StoreField(out->data() + at, ExtF::kLength, len);
  for (size_t i = 0; i < len; ++i) {
    (*out)[at + kExtensionDataStart + i] = data[i];
  }
}

}  // namespace

Result<Extensions> ParseExtensions(const Header& h, const uint8_t* c0,
                                   size_t length) {
  Extensions e;
  // SPEC(Q2.EXT.start): extensions begin exactly at header_length.
  uint64_t off = h.header_length;
  uint64_t end =
      h.backing_file_offset != 0 ? h.backing_file_offset : h.cluster_size();
  end = std::min<uint64_t>(end, length);
  std::set<uint32_t> seen;
  while (true) {
    if (off + kExtensionDataStart > end) {
      // Nothing more fits: an implicit end (QEMU tolerates this too).
      e.end_offset = off;
      return e;
    }
    const uint32_t type = LoadField<uint32_t>(c0 + off, ExtF::kType);
    const uint32_t len = LoadField<uint32_t>(c0 + off, ExtF::kLength);
    // SPEC(Q2.EXT.bounds): checked before the type, as QEMU does, so an end
    // marker whose length overruns the area is refused too (found by
    // run.py fuzz against qemu-img: n_ext_end_marker_length_overrun).
    if (len > end - off - kExtensionDataStart) {
      return Rejected("Q2.EXT.bounds", off,
                      "header extension of " + std::to_string(len) +
                          " bytes overruns the extension area");
    }
    // SPEC(Q2.EXT.end_marker)
    if (type == kExtEnd) {
      e.end_offset = off + kExtensionDataStart;
      return e;
    }
    const uint8_t* d = c0 + off + kExtensionDataStart;
    const bool known = type == kExtBackingFormat || type == kExtFeatureNames ||
                       type == kExtBitmaps || type == kExtFullDiskEncryption ||
                       type == kExtDataFile;
    // SPEC(Q2.EXT.at_most_once)
    if (known && !seen.insert(type).second) {
      return Rejected("Q2.EXT.at_most_once", off,
                      "header extension type appears twice");
    }
    switch (type) {
      case kExtBackingFormat:
        e.backing_format = std::string(reinterpret_cast<const char*>(d), len);
        break;
      case kExtFeatureNames:
        QCOW2REF_RETURN_IF_ERROR(ParseFeatureNames(d, len, off, &e));
        break;
      case kExtBitmaps:
        QCOW2REF_RETURN_IF_ERROR(ParseBitmaps(h, d, len, off, &e));
        break;
      case kExtFullDiskEncryption:
        QCOW2REF_RETURN_IF_ERROR(ParseFde(h, d, len, off, &e));
        break;
      case kExtDataFile:
        // SPEC(Q2.XDF.name_ext)
        e.data_file = std::string(reinterpret_cast<const char*>(d), len);
        break;
      default:
        // SPEC(Q2.EXT.unknown_skip)
        e.unknown.push_back({type, std::vector<uint8_t>(d, d + len)});
        break;
    }
    // SPEC(Q2.EXT.padding): data is padded to a multiple of 8.
    const uint64_t padded = (uint64_t{len} + 7) & ~uint64_t{7};
    off += kExtensionDataStart + padded;
  }
}

std::vector<uint8_t> SerializeExtensions(const Extensions& e) {
  std::vector<uint8_t> out;
  auto str = [](const std::string& s) {
    return reinterpret_cast<const uint8_t*>(s.data());
  };
  if (e.backing_format) {
    AppendExtension(&out, kExtBackingFormat, str(*e.backing_format),
                    e.backing_format->size());
  }
  if (e.data_file) {
    AppendExtension(&out, kExtDataFile, str(*e.data_file), e.data_file->size());
  }
  if (e.fde) {
    uint8_t d[kFdePointerSize];
    StoreField(d, FdeF::kOffset, e.fde->offset);
    StoreField(d, FdeF::kLength, e.fde->length);
    AppendExtension(&out, kExtFullDiskEncryption, d, sizeof(d));
  }
  if (e.has_feature_table) {
    std::vector<uint8_t> d(e.feature_names.size() * kFeatureNameEntrySize, 0);
    for (size_t i = 0; i < e.feature_names.size(); ++i) {
      const FeatureName& f = e.feature_names[i];
      uint8_t* entry = d.data() + i * kFeatureNameEntrySize;
      StoreField(entry, FntF::kType, f.type);
      StoreField(entry, FntF::kBit, f.bit);
      uint8_t* name = FieldBytes(entry, FntF::kName);
      for (size_t j = 0; j < f.name.size() && j < FntF::kName.width; ++j) {
        name[j] = static_cast<uint8_t>(f.name[j]);
      }
    }
    AppendExtension(&out, kExtFeatureNames, d.data(), d.size());
  }
  if (e.bitmaps) {
    uint8_t d[kBitmapsExtensionSize] = {};
    StoreField(d, BmxF::kNbBitmaps, e.bitmaps->nb_bitmaps);
    StoreField(d, BmxF::kDirectorySize, e.bitmaps->directory_size);
    StoreField(d, BmxF::kDirectoryOffset, e.bitmaps->directory_offset);
    AppendExtension(&out, kExtBitmaps, d, sizeof(d));
  }
  for (const UnknownExtension& u : e.unknown) {
    AppendExtension(&out, u.type, u.data.data(), u.data.size());
  }
  out.resize(out.size() + kExtensionDataStart, 0);  // End marker.
  return out;
}

std::string FeatureNameFor(const Extensions& e, uint8_t type, uint8_t bit) {
  for (const FeatureName& f : e.feature_names) {
    if (f.type == type && f.bit == bit) return f.name;
  }
  return "";
}

}  // namespace qcow2ref
