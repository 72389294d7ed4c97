#include "reference/format/extensions.h"

#include <set>

#include "reference/format/endian.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

constexpr size_t kFeatureNameEntrySize = 48;

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
    f.type = d[i];
    f.bit = d[i + 1];
    const char* name = reinterpret_cast<const char*>(d + i + 2);
    size_t n = 0;
    while (n < 46 && name[n] != '\0') ++n;
    f.name.assign(name, n);
    e->feature_names.push_back(std::move(f));
  }
  return OkStatus();
}

Status ParseBitmaps(const Header& h, const uint8_t* d, uint32_t len,
                    uint64_t at, Extensions* e) {
  // SPEC(Q2.BMX.length)
  if (len != 24) {
    return Rejected(
        "Q2.BMX.length", at,
        "bitmaps extension length " + std::to_string(len) + " is not 24");
  }
  BitmapsExtension b;
  b.nb_bitmaps = LoadBe32(d);
  const uint32_t reserved = LoadBe32(d + 4);
  b.directory_size = LoadBe64(d + 8);
  b.directory_offset = LoadBe64(d + 16);
  // SPEC(Q2.BMX.reserved_zero)
  if (reserved != 0) {
    return Rejected("Q2.BMX.reserved_zero", at + 12,
                    "bitmaps extension reserved field is not zero");
  }
  // SPEC(Q2.BMX.nb_bitmaps)
  if (b.nb_bitmaps == 0 || b.nb_bitmaps > kMaxBitmaps) {
    return Rejected(
        "Q2.BMX.nb_bitmaps", at + 8,
        "nb_bitmaps " + std::to_string(b.nb_bitmaps) + " is outside 1..65535");
  }
  // SPEC(Q2.BMX.directory_size.max)
  if (b.directory_size > kMaxBitmapDirectoryBytes) {
    return Rejected("Q2.BMX.directory_size.max", at + 16,
                    "bitmap directory size " +
                        std::to_string(b.directory_size) + " is too large");
  }
  // SPEC(Q2.BMX.directory_offset.aligned)
  if (b.directory_offset % h.cluster_size() != 0) {
    return Rejected("Q2.BMX.directory_offset.aligned", at + 24,
                    "bitmap directory offset is not cluster aligned");
  }
  e->bitmaps = b;
  return OkStatus();
}

Status ParseFde(const Header& h, const uint8_t* d, uint32_t len, uint64_t at,
                Extensions* e) {
  // SPEC(Q2.FDE.only_luks)
  if (h.crypt_method != 2) {
    return Rejected("Q2.FDE.only_luks", at,
                    "full disk encryption header pointer with crypt_method " +
                        std::to_string(h.crypt_method));
  }
  // SPEC(Q2.FDE.length)
  if (len != 16) {
    return Rejected("Q2.FDE.length", at,
                    "full disk encryption header pointer length " +
                        std::to_string(len) + " is not 16");
  }
  FdePointer f{LoadBe64(d), LoadBe64(d + 8)};
  // SPEC(Q2.FDE.offset.aligned)
  if (f.offset % h.cluster_size() != 0) {
    return Rejected("Q2.FDE.offset.aligned", at + 8,
                    "encryption header offset is not cluster aligned");
  }
  e->fde = f;
  return OkStatus();
}

void AppendExtension(std::vector<uint8_t>* out, uint32_t type,
                     const uint8_t* data, size_t len) {
  size_t at = out->size();
  out->resize(at + 8 + ((len + 7) & ~size_t{7}), 0);
  StoreBe32(out->data() + at, type);
  StoreBe32(out->data() + at + 4, static_cast<uint32_t>(len));
  for (size_t i = 0; i < len; ++i) (*out)[at + 8 + i] = data[i];
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
    if (off + 8 > end) {
      // Nothing more fits: an implicit end (QEMU tolerates this too).
      e.end_offset = off;
      return e;
    }
    const uint32_t type = LoadBe32(c0 + off);
    const uint32_t len = LoadBe32(c0 + off + 4);
    // SPEC(Q2.EXT.bounds): checked before the type, as QEMU does, so an end
    // marker whose length overruns the area is refused too (found by
    // run.py fuzz against qemu-img: n_ext_end_marker_length_overrun).
    if (len > end - off - 8) {
      return Rejected("Q2.EXT.bounds", off,
                      "header extension of " + std::to_string(len) +
                          " bytes overruns the extension area");
    }
    // SPEC(Q2.EXT.end_marker)
    if (type == kExtEnd) {
      e.end_offset = off + 8;
      return e;
    }
    const uint8_t* d = c0 + off + 8;
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
    off += 8 + padded;
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
    uint8_t d[16];
    StoreBe64(d, e.fde->offset);
    StoreBe64(d + 8, e.fde->length);
    AppendExtension(&out, kExtFullDiskEncryption, d, 16);
  }
  if (e.has_feature_table) {
    std::vector<uint8_t> d(e.feature_names.size() * kFeatureNameEntrySize, 0);
    for (size_t i = 0; i < e.feature_names.size(); ++i) {
      const FeatureName& f = e.feature_names[i];
      d[i * 48] = f.type;
      d[i * 48 + 1] = f.bit;
      for (size_t j = 0; j < f.name.size() && j < 46; ++j) {
        d[i * 48 + 2 + j] = static_cast<uint8_t>(f.name[j]);
      }
    }
    AppendExtension(&out, kExtFeatureNames, d.data(), d.size());
  }
  if (e.bitmaps) {
    uint8_t d[24] = {};
    StoreBe32(d, e.bitmaps->nb_bitmaps);
    StoreBe64(d + 8, e.bitmaps->directory_size);
    StoreBe64(d + 16, e.bitmaps->directory_offset);
    AppendExtension(&out, kExtBitmaps, d, 24);
  }
  for (const UnknownExtension& u : e.unknown) {
    AppendExtension(&out, u.type, u.data.data(), u.data.size());
  }
  out.resize(out.size() + 8, 0);  // End marker.
  return out;
}

std::string FeatureNameFor(const Extensions& e, uint8_t type, uint8_t bit) {
  for (const FeatureName& f : e.feature_names) {
    if (f.type == type && f.bit == bit) return f.name;
  }
  return "";
}

}  // namespace qcow2ref
