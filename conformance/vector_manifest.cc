#include "conformance/vector_manifest.h"

#include <cryptopp/filters.h>
#include <cryptopp/hex.h>
#include <cryptopp/sha.h>
#include <dirent.h>

#include <algorithm>
#include <fstream>

namespace qcow2ref::conformance {

std::vector<ImageVector> LoadImageVectors(const std::string& root) {
  std::vector<ImageVector> out;
  const std::string dir = root + "/vectors";
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.rfind("qcow2_", 0) == 0 && n.size() > 10 &&
          n.substr(n.size() - 10) == "_test.json") {
        names.push_back(n);
      }
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::ifstream in(dir + "/" + n);
    const nlohmann::json m = nlohmann::json::parse(in);
    for (const auto& t : m.at("tests")) {
      ImageVector v;
      v.id = t.at("id").get<std::string>();
      v.verdict = t.at("verdict").get<std::string>();
      v.image = "vectors/" + t.at("image").get<std::string>();
      v.clauses = t.at("clauses").get<std::vector<std::string>>();
      if (t.contains("features")) {
        v.features = t.at("features").get<std::vector<std::string>>();
      }
      v.expect = t.value("expect", nlohmann::json::object());
      v.manifest = n;
      out.push_back(std::move(v));
    }
  }
  return out;
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
