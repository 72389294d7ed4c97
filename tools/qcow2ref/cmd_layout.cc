// qcow2ref layout: a picture (SVG) or table (text) of who owns each cluster.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "reference/check/checker.h"
#include "reference/check/layout_svg.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/commands.h"

namespace qcow2ref::cli {

int RunLayout(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"--text"},
                        {"--svg", "--secret-file", "--secret-env"});
  if (!args.ok()) return ReportError(args.error());
  if (args->positional.size() != 1 ||
      (!args->Get("--svg") && !args->Has("--text"))) {
    return UsageFailure("layout IMAGE (--svg OUT | --text)");
  }
  const std::string& path = args->positional[0];
  auto result = RunChecker(path, *args);
  if (!result.ok()) return ReportError(result.error());
  if (!result->usage) {
    return ReportError(Error{ErrorKind::kRejected,
                             result->report.findings.empty()
                                 ? ""
                                 : result->report.findings[0].clause,
                             std::nullopt,
                             "the image cannot be opened, so it has no "
                             "layout to draw"});
  }
  if (args->Has("--text")) {
    std::cout << RenderLayoutText(*result->usage, result->report);
  }
  if (auto out = args->Get("--svg")) {
    std::ofstream f(*out, std::ios::binary);
    f << RenderLayoutSvg(*result->usage, result->report, path);
    if (!f) return ReportError(IoError("cannot write " + *out));
  }
  return kExitOk;
}

}  // namespace qcow2ref::cli
