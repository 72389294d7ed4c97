// qcow2ref info: header, features, extensions, snapshots and bitmaps, in the
// field names of `qemu-img info --output=json` where they overlap.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "reference/image/image.h"
#include "reference/status/text_escape.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/json_text.h"
#include "tools/qcow2ref/open_image.h"

namespace qcow2ref::cli {
namespace {

using nlohmann::ordered_json;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

const char* CryptName(CryptMethod m) {
  return m == CryptMethod::kAes    ? "aes"
         : m == CryptMethod::kLuks ? "luks"
                                   : "none";
}

ordered_json FeatureList(const Image& img, uint64_t bits, uint8_t type) {
  static const char* kIncompat[] = {"dirty bit", "corrupt bit",
                                    "external data file", "compression type",
                                    "extended L2 entries"};
  static const char* kCompat[] = {"lazy refcounts"};
  static const char* kAutoclear[] = {"bitmaps", "raw external data"};
  ordered_json out = ordered_json::array();
  for (int bit = 0; bit < 64; ++bit) {
    if (((bits >> bit) & 1) == 0) continue;
    std::string name =
        FeatureNameFor(img.extensions(), type, static_cast<uint8_t>(bit));
    if (name.empty()) {
      if (type == 0 && bit < 5) name = kIncompat[bit];
      if (type == 1 && bit < 1) name = kCompat[bit];
      if (type == 2 && bit < 2) name = kAutoclear[bit];
    }
    out.push_back({{"bit", bit}, {"name", name.empty() ? "unknown" : name}});
  }
  return out;
}

// The `encrypt` object of qemu-img info, for AES and LUKS.
ordered_json EncryptJson(const Image& img) {
  ordered_json e;
  e["format"] = CryptName(img.header().crypt_method);
  if (!img.luks()) return e;
  const LuksHeader& l = *img.luks();
  const CipherSuite& s = l.suite;
  static const char* kModes[] = {"ecb", "cbc", "ctr", "xts"};
  static const char* kIvs[] = {"plain", "plain64", "essiv"};
  const size_t bits =
      (s.mode == CipherMode::kXts ? l.key_bytes / 2 : l.key_bytes) * 8;
  e["cipher-alg"] = l.cipher_name + "-" + std::to_string(bits);
  e["cipher-mode"] = kModes[static_cast<int>(s.mode)];
  e["ivgen-alg"] = kIvs[static_cast<int>(s.ivgen)];
  if (!s.iv_hash.empty()) e["ivgen-hash-alg"] = s.iv_hash;
  e["hash-alg"] = l.hash_spec;
  e["payload-offset"] = uint64_t{l.payload_offset} * 512;
  e["master-key-iters"] = l.mk_digest_iter;
  e["uuid"] = l.uuid;
  ordered_json slots = ordered_json::array();
  for (const LuksKeySlot& k : l.slots) {
    ordered_json j;
    j["active"] = k.enabled();
    if (k.enabled()) j["iters"] = k.iterations;
    j["key-offset"] = uint64_t{k.key_material_offset} * 512;
    j["stripes"] = k.stripes;
    slots.push_back(j);
  }
  e["slots"] = slots;
  if (img.luks_slot() >= 0) e["unlocked-slot"] = img.luks_slot();
  return e;
}

ordered_json InfoJson(const std::string& path, const Image& img) {
  const Header& h = img.header();
  const Extensions& ext = img.extensions();
  ordered_json j;
  j["filename"] = path;
  j["format"] = "qcow2";
  j["virtual-size"] = img.guest_size();
  j["actual-size"] = img.file().Size();
  j["cluster-size"] = h.cluster_size();
  j["encrypted"] = h.crypt_method != CryptMethod::kNone;
  j["dirty-flag"] = (h.incompatible_features & kIncompatDirty) != 0;
  if (img.backing_name()) {
    j["backing-filename"] = *img.backing_name();
    if (ext.backing_format) j["backing-filename-format"] = *ext.backing_format;
  }
  ordered_json snaps = ordered_json::array();
  for (const Snapshot& s : img.snapshots()) {
    ordered_json e;
    e["id"] = s.id;
    e["name"] = s.name;
    e["vm-state-size"] = s.vm_state_size;
    e["date-sec"] = s.date_sec;
    e["date-nsec"] = s.date_nsec;
    e["vm-clock-sec"] = s.vm_clock_nsec / 1000000000ull;
    e["vm-clock-nsec"] = s.vm_clock_nsec % 1000000000ull;
    if (s.icount) e["icount"] = *s.icount;
    if (s.disk_size) e["disk-size"] = *s.disk_size;
    snaps.push_back(e);
  }
  if (!snaps.empty()) j["snapshots"] = snaps;
  ordered_json d;
  d["compat"] = h.version == 2 ? "0.10" : "1.1";
  if (h.version >= 3) {
    d["compression-type"] = h.compression_type == 1 ? "zstd" : "zlib";
    d["lazy-refcounts"] = (h.compatible_features & kCompatLazyRefcounts) != 0;
  }
  if (!img.bitmaps().empty()) {
    ordered_json bms = ordered_json::array();
    for (const BitmapEntry& b : img.bitmaps()) {
      ordered_json flags = ordered_json::array();
      if (b.flags & kBitmapFlagInUse) flags.push_back("in-use");
      if (b.flags & kBitmapFlagAuto) flags.push_back("auto");
      bms.push_back({{"flags", flags},
                     {"name", b.name},
                     {"granularity", uint64_t{1} << b.granularity_bits}});
    }
    d["bitmaps"] = bms;
  }
  d["refcount-bits"] = h.refcount_bits();
  d["corrupt"] = (h.incompatible_features & kIncompatCorrupt) != 0;
  d["extended-l2"] = h.extended_l2();
  if (h.has_data_file()) {
    if (ext.data_file) d["data-file"] = *ext.data_file;
    d["data-file-raw"] = (h.autoclear_features & kAutoclearRawDataFile) != 0;
  }
  if (h.crypt_method != CryptMethod::kNone) d["encrypt"] = EncryptJson(img);
  j["format-specific"] = {{"type", "qcow2"}, {"data", d}};

  // Our own, complete view of the header and extensions.
  ordered_json q;
  q["version"] = h.version;
  q["cluster-bits"] = h.cluster_bits;
  q["size"] = h.size;
  q["crypt-method"] = static_cast<uint32_t>(h.crypt_method);
  q["l1-size"] = h.l1_size;
  q["l1-table-offset"] = h.l1_table_offset;
  q["refcount-table-offset"] = h.refcount_table_offset;
  q["refcount-table-clusters"] = h.refcount_table_clusters;
  q["nb-snapshots"] = h.nb_snapshots;
  q["snapshots-offset"] = h.snapshots_offset;
  q["incompatible-features"] = FeatureList(img, h.incompatible_features, 0);
  q["compatible-features"] = FeatureList(img, h.compatible_features, 1);
  q["autoclear-features"] = FeatureList(img, h.autoclear_features, 2);
  q["refcount-order"] = h.refcount_order;
  q["header-length"] = h.header_length;
  ordered_json exts = ordered_json::array();
  if (ext.backing_format)
    exts.push_back(
        {{"type", Hex(kExtBackingFormat)}, {"name", "backing format"}});
  if (ext.data_file)
    exts.push_back(
        {{"type", Hex(kExtDataFile)}, {"name", "external data file name"}});
  if (ext.fde) {
    exts.push_back({{"type", Hex(kExtFullDiskEncryption)},
                    {"name", "full disk encryption header pointer"},
                    {"offset", ext.fde->offset},
                    {"length", ext.fde->length}});
  }
  if (ext.has_feature_table)
    exts.push_back({{"type", Hex(kExtFeatureNames)},
                    {"name", "feature name table"},
                    {"entries", ext.feature_names.size()}});
  if (ext.bitmaps) {
    exts.push_back({{"type", Hex(kExtBitmaps)},
                    {"name", "bitmaps"},
                    {"nb-bitmaps", ext.bitmaps->nb_bitmaps},
                    {"directory-offset", ext.bitmaps->directory_offset},
                    {"directory-size", ext.bitmaps->directory_size}});
  }
  for (const UnknownExtension& u : ext.unknown) {
    exts.push_back({{"type", Hex(u.type)},
                    {"name", "unknown"},
                    {"length", u.data.size()}});
  }
  q["extensions"] = exts;
  j["qcow2ref"] = q;
  return j;
}

// A string as raw bytes made printable; anything else as (ASCII) JSON.
std::string Text(const ordered_json& v) {
  // SPEC(QX.CLI.control_escape)
  if (v.is_string()) return EscapeForTerminal(v.get_ref<const std::string&>());
  return DumpJson(v, -1, true);
}

void PrintHuman(const ordered_json& j) {
  std::cout << "image: " << Text(j["filename"]) << "\n"
            << "file format: qcow2\n"
            << "virtual size: " << j["virtual-size"] << " bytes\n"
            << "disk size: " << j["actual-size"] << " bytes\n"
            << "cluster_size: " << j["cluster-size"] << "\n";
  if (j.contains("backing-filename")) {
    std::cout << "backing file: " << Text(j["backing-filename"]) << "\n";
    if (j.contains("backing-filename-format")) {
      std::cout << "backing file format: " << Text(j["backing-filename-format"])
                << "\n";
    }
  }
  const ordered_json& d = j["format-specific"]["data"];
  std::cout << "Format specific information:\n";
  for (auto it = d.begin(); it != d.end(); ++it) {
    std::cout << "    " << it.key() << ": " << Text(*it) << "\n";
  }
  if (j.contains("snapshots")) {
    std::cout << "Snapshot list:\nID  TAG  VM-STATE-SIZE  DATE-SEC\n";
    for (const auto& s : j["snapshots"]) {
      std::cout << Text(s["id"]) << "  " << Text(s["name"]) << "  "
                << s["vm-state-size"] << "  " << s["date-sec"] << "\n";
    }
  }
  const ordered_json& q = j["qcow2ref"];
  std::cout << "Header:\n";
  for (auto it = q.begin(); it != q.end(); ++it) {
    std::cout << "    " << it.key() << ": " << DumpJson(*it, -1, true) << "\n";
  }
}

}  // namespace

int RunInfo(int argc, char** argv) {
  int rc = kExitOk;
  auto cmd = OpenJsonImageCommand(argc, argv, "info IMAGE [--json]", &rc);
  if (!cmd) return rc;
  const ordered_json j = InfoJson(cmd->path, *cmd->opened.image);
  if (cmd->json) {
    // SPEC(QX.CLI.json_bytes): names from the image are bytes.
    std::cout << DumpJson(j, 4) << "\n";
  } else {
    PrintHuman(j);
  }
  return kExitOk;
}

}  // namespace qcow2ref::cli
