// qcow2ref check: every checkable clause, findings named by clause, summary
// counts in `qemu-img check --output=json` vocabulary; --repair leaks.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "reference/check/checker.h"
#include "reference/check/rebuild.h"
#include "reference/check/repair.h"
#include "reference/format/header.h"
#include "reference/format/header_fields.h"
#include "reference/image/references.h"
#include "reference/io/byte_store.h"
#include "reference/status/text_escape.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"
#include "tools/qcow2ref/json_text.h"

namespace qcow2ref::cli {
namespace {

nlohmann::ordered_json ReportJson(const std::string& path,
                                  const CheckReport& r) {
  nlohmann::ordered_json j;
  j["filename"] = path;
  j["format"] = "qcow2";
  j["check-errors"] = r.check_errors ? 1 : 0;
  j["corruptions"] = r.Count(Severity::kCorruption);
  j["leaks"] = r.Count(Severity::kLeak);
  j["warnings"] = r.Count(Severity::kWarning);
  j["image-end-offset"] = r.image_end_offset;
  j["total-clusters"] = r.total_clusters;
  j["allocated-clusters"] = r.allocated_clusters;
  j["compressed-clusters"] = r.compressed_clusters;
  nlohmann::ordered_json f = nlohmann::ordered_json::array();
  for (const Finding& x : r.findings) {
    nlohmann::ordered_json e;
    e["severity"] = SeverityName(x.severity);
    e["clause"] = x.clause;
    if (x.offset) e["offset"] = *x.offset;
    e["message"] = x.message;
    f.push_back(e);
  }
  j["findings"] = f;
  // SPEC(QX.LIMIT.check_findings): the counters above are exact; findings
  // past the first kMaxFindingsPerClause of a clause are only counted.
  if (!r.omitted.empty()) {
    nlohmann::ordered_json o = nlohmann::ordered_json::array();
    for (const auto& [key, count] : r.omitted) {
      nlohmann::ordered_json e;
      e["severity"] = SeverityName(key.second);
      e["clause"] = key.first;
      e["count"] = count;
      o.push_back(e);
    }
    j["omitted-findings"] = o;
  }
  return j;
}

// True when the header of the image at `path` has the dirty or corrupt bit.
bool HasRepairMarks(const std::string& path) {
  auto file = FileSource::Open(path);
  if (!file.ok() || (*file)->Size() < kV3MinHeaderLength) return false;
  uint8_t h[HeaderField::kIncompatibleFeatures.end()];
  if (!(*file)->ReadAt(0, h, sizeof(h)).ok() ||
      LoadField(h, HeaderField::kVersion) < 3) {
    return false;
  }
  return (LoadField(h, HeaderField::kIncompatibleFeatures) &
          (kIncompatDirty | kIncompatCorrupt)) != 0;
}

}  // namespace

Result<CheckResult> RunChecker(const std::string& path, const Args& args) {
  QCOW2REF_ASSIGN_OR_RETURN(std::optional<SecretBytes> secret,
                            LoadSecret(args));
  QCOW2REF_ASSIGN_OR_RETURN(auto file, FileSource::Open(path));
  CheckOptions options;
  if (secret) options.secret = &*secret;
  options.directory = DirectoryOf(path);
  return CheckImage(std::move(file), options);
}

int RunCheck(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"--json"},
                        {"--repair", "--secret-file", "--secret-env"});
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1) {
    return UsageFailure("check IMAGE [--json] [--repair leaks|all]");
  }
  const auto repair = args->Get("--repair");
  if (repair && *repair != "leaks" && *repair != "all") {
    return UsageFailure("--repair takes 'leaks' or 'all'");
  }
  const std::string& path = args->positional[0];
  auto result = RunChecker(path, *args);
  if (!result.ok()) return ReportError(result.error());
  CheckReport report = std::move(result->report);
  std::string repair_note;
  // The dirty and corrupt marks are repaired too, even on an image whose
  // counts are right (qemu-img check -r all clears them).
  if (repair && *repair == "all" && (!report.clean() || HasRepairMarks(path))) {
    auto store = FileStore::Open(path, false, false);
    if (!store.ok()) return ReportError(store.error());
    auto done = RebuildRefcounts(store->get());
    if (!done.ok()) return ReportError(done.error());
    repair_note =
        "rebuilt refcounts: " + std::to_string(done->refcounts_changed) +
        " clusters had a wrong count, " + std::to_string(done->copied_fixed) +
        " COPIED bits fixed" +
        (done->dirty_cleared ? ", dirty bit cleared" : "") +
        (done->corrupt_cleared ? ", corrupt bit cleared" : "");
    auto again = RunChecker(path, *args);
    if (!again.ok()) return ReportError(again.error());
    report = std::move(again->report);
  } else if (repair && !report.leaks.empty()) {
    // SPEC(QX.CHECK.repair_leaks_only)
    auto fixed = RepairLeaks(path, report);
    if (!fixed.ok()) return ReportError(fixed.error());
    repair_note = "repaired " + std::to_string(*fixed) + " leaked clusters";
    auto again = RunChecker(path, *args);
    if (!again.ok()) return ReportError(again.error());
    report = std::move(again->report);
  }
  if (args->Has("--json")) {
    auto j = ReportJson(path, report);
    if (!repair_note.empty()) j["repair"] = repair_note;
    // SPEC(QX.CLI.json_bytes): messages may quote names from the image.
    std::cout << DumpJson(j, 4) << "\n";
  } else {
    for (const Finding& f : report.findings) {
      // SPEC(QX.CLI.control_escape)
      std::printf("%s: %s: %s", SeverityName(f.severity),
                  EscapeForTerminal(f.clause).c_str(),
                  EscapeForTerminal(f.message).c_str());
      if (f.offset) {
        std::printf(" (at byte %llu)",
                    static_cast<unsigned long long>(*f.offset));
      }
      std::printf("\n");
    }
    for (const auto& [key, count] : report.omitted) {
      std::printf("%s: %s: %llu more not listed (QX.LIMIT.check_findings)\n",
                  SeverityName(key.second),
                  EscapeForTerminal(key.first).c_str(),
                  static_cast<unsigned long long>(count));
    }
    if (!repair_note.empty()) std::printf("%s\n", repair_note.c_str());
    std::printf(
        "%llu corruptions, %llu leaks, %llu warnings%s\n",
        static_cast<unsigned long long>(report.Count(Severity::kCorruption)),
        static_cast<unsigned long long>(report.Count(Severity::kLeak)),
        static_cast<unsigned long long>(report.Count(Severity::kWarning)),
        report.check_errors ? ", check incomplete" : "");
    if (report.clean()) std::printf("No errors were found on the image.\n");
  }
  return report.clean() ? kExitOk : kExitRejected;
}

}  // namespace qcow2ref::cli
