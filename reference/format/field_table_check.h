// Test helper: checks a field table against the rules every structure's
// table keeps (fields back to back, distinct names, registered clauses).
// The tests that use it take //spec:registry as data.
#ifndef QCOW2REF_REFERENCE_FORMAT_FIELD_TABLE_CHECK_H_
#define QCOW2REF_REFERENCE_FORMAT_FIELD_TABLE_CHECK_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "reference/format/field.h"

namespace qcow2ref::testing {

// The clause registry as text, read from the test's runfiles.
inline const std::string& ClauseRegistryText() {
  static const std::string* text = [] {
    auto* s = new std::string;
    for (const char* path :
         {"spec/clauses/qcow2.json", "spec/clauses/luks1.json",
          "spec/clauses/qx.json"}) {
      std::ifstream in(path);
      std::stringstream buf;
      buf << in.rdbuf();
      *s += buf.str();
    }
    return s;
  }();
  return *text;
}

inline bool ClauseRegistered(const std::string& id) {
  return ClauseRegistryText().find("\"id\": \"" + id + "\"") !=
         std::string::npos;
}

// The fields follow each other from `start` with no gap and no overlap,
// carry distinct names and cite registered clauses; returns where the last
// one ends.
template <size_t N>
uint32_t CheckFieldTable(const Field (&fields)[N], uint32_t start = 0) {
  std::set<std::string> names;
  uint32_t at = start;
  for (const Field& f : fields) {
    EXPECT_EQ(f.offset, at)
        << f.name << " does not start where the field before it ends";
    EXPECT_GT(f.width, 0u) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << f.name << " appears twice";
    EXPECT_TRUE(ClauseRegistered(f.clause))
        << f.name << " cites " << f.clause << ", not in the registry";
    at = f.end();
  }
  return at;
}

}  // namespace qcow2ref::testing

#endif  // QCOW2REF_REFERENCE_FORMAT_FIELD_TABLE_CHECK_H_
