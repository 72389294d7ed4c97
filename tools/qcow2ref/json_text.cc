#include "tools/qcow2ref/json_text.h"

#include "reference/status/text_escape.h"

namespace qcow2ref::cli {

nlohmann::ordered_json JsonSafe(const nlohmann::ordered_json& j) {
  using nlohmann::ordered_json;
  if (j.is_string()) {
    bool escaped = false;
    return EscapeInvalidUtf8(j.get_ref<const std::string&>(), &escaped);
  }
  if (j.is_array()) {
    ordered_json out = ordered_json::array();
    for (const ordered_json& e : j) out.push_back(JsonSafe(e));
    return out;
  }
  if (!j.is_object()) return j;
  // SPEC(QX.CLI.json_bytes): invalid UTF-8 becomes \xHH text, flagged.
  ordered_json out = ordered_json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool key_escaped = false;
    const std::string key = EscapeInvalidUtf8(it.key(), &key_escaped);
    out[key] = JsonSafe(it.value());
    if (it->is_string() && !IsValidUtf8(it->get_ref<const std::string&>())) {
      out[key + "-escaped"] = true;
    }
  }
  return out;
}

std::string DumpJson(const nlohmann::ordered_json& j, int indent, bool ascii) {
  return JsonSafe(j).dump(indent, ' ', ascii);
}

}  // namespace qcow2ref::cli
