#include "conformance/vector_manifest.h"

#include <cryptopp/filters.h>
#include <cryptopp/hex.h>
#include <cryptopp/sha.h>
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

namespace qcow2ref::conformance {

namespace {

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

}  // namespace

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
      if (t.contains("chain")) {
        for (const auto& c : t.at("chain")) {
          v.chain.push_back("vectors/" + c.get<std::string>());
        }
      }
      if (t.contains("features")) {
        v.features = t.at("features").get<std::vector<std::string>>();
      }
      v.expect = t.value("expect", nlohmann::json::object());
      if (t.contains("secrets")) {
        const auto& sec = t.at("secrets");
        if (sec.contains("passphrase_hex")) {
          v.passphrases.push_back(
              FromHex(sec.at("passphrase_hex").get<std::string>()));
        }
        if (sec.contains("other_passphrases_hex")) {
          for (const auto& o : sec.at("other_passphrases_hex")) {
            v.passphrases.push_back(FromHex(o.get<std::string>()));
          }
        }
      }
      v.manifest = n;
      out.push_back(std::move(v));
    }
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
