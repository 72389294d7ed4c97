// JSON output that stays valid whatever bytes an image or the command line
// holds (QX.CLI.json_bytes): strings are bytes until printed.
#ifndef QCOW2REF_TOOLS_QCOW2REF_JSON_TEXT_H_
#define QCOW2REF_TOOLS_QCOW2REF_JSON_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>

namespace qcow2ref::cli {

// A copy of `j` in which every string (keys and values) is valid UTF-8: a
// string that is not keeps its valid characters, shows each other byte as
// the text \xHH and each backslash as \\ (so the bytes can be recovered), and
// an object member "K" so escaped is followed by "K-escaped": true.
nlohmann::ordered_json JsonSafe(const nlohmann::ordered_json& j);

// JsonSafe(j).dump(indent): never throws on names. `ascii` also writes every
// non-ASCII character as \uXXXX (for human output).
std::string DumpJson(const nlohmann::ordered_json& j, int indent = -1,
                     bool ascii = false);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_JSON_TEXT_H_
