#include "conformance/vector_manifest.h"

#include <cryptopp/filters.h>
#include <cryptopp/hex.h>
#include <cryptopp/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace qcow2ref::conformance {

namespace {

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::vector<std::string> Strings(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& s : j) out.push_back(s.get<std::string>());
  return out;
}

std::string StringOr(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j.at(key).is_string() ? j.at(key).get<std::string>()
                                                  : std::string();
}

}  // namespace

std::vector<ImageVector> LoadImageVectors(const std::string& path) {
  std::ifstream in(path);
  const nlohmann::json plan = nlohmann::json::parse(in);
  std::vector<ImageVector> out;
  for (const auto& t : plan.at("vectors")) {
    ImageVector v;
    v.id = t.at("id").get<std::string>();
    v.verdict = t.at("verdict").get<std::string>();
    v.stage = StringOr(t, "stage");
    v.image = t.at("image").get<std::string>();
    v.chain = Strings(t.at("chain"));
    v.clauses = Strings(t.at("clauses"));
    for (const auto& h : t.at("passphrases_hex")) {
      v.passphrases.push_back(FromHex(h.get<std::string>()));
    }
    v.finding = StringOr(t, "finding");
    v.manifest = t.at("manifest").get<std::string>();
    if (t.contains("reads")) {
      for (const auto& r : t.at("reads")) {
        ExpectedRead e;
        e.what = r.at("what").get<std::string>();
        if (!r.at("offset").is_null())
          e.offset = r.at("offset").get<uint64_t>();
        if (!r.at("length").is_null())
          e.length = r.at("length").get<uint64_t>();
        e.snapshot = StringOr(r, "snapshot");
        e.passphrase = r.at("passphrase").get<size_t>();
        e.size = r.at("size").get<uint64_t>();
        e.sha256 = r.at("sha256").get<std::string>();
        v.reads.push_back(std::move(e));
      }
    }
    if (t.contains("refusal")) {
      v.refusal_required = t.at("refusal").at("required").get<bool>();
      v.refusal_tokens = Strings(t.at("refusal").at("tokens"));
    }
    if (t.contains("accepted")) {
      for (const auto& a : t.at("accepted")) {
        Reading r;
        r.name = a.at("name").get<std::string>();
        r.size = a.value("virtual_size", uint64_t{0});
        r.sha256 = StringOr(a, "guest_sha256");
        v.accepted.push_back(std::move(r));
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

namespace {

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
}

}  // namespace

std::string StageVector(const ImageVector& v, const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  for (const std::string& c : v.chain) CopyFile(c, dir + "/" + BaseName(c));
  const std::string image = dir + "/" + BaseName(v.image);
  CopyFile(v.image, image);
  return image;
}

std::string Sha256Hex(const uint8_t* data, size_t size) {
  CryptoPP::SHA256 h;
  std::string out;
  CryptoPP::StringSource s(
      data, size, true,
      new CryptoPP::HashFilter(
          h, new CryptoPP::HexEncoder(new CryptoPP::StringSink(out), false)));
  return out;
}

}  // namespace qcow2ref::conformance
