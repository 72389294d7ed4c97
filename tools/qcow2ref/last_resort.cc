#include "tools/qcow2ref/last_resort.h"

#include <cstdio>
#include <exception>
#include <string>

#include "tools/qcow2ref/cli.h"

namespace qcow2ref::cli {
namespace {

int InternalFailure(const char* what) noexcept {
  // SPEC(QX.CLI.internal)
  try {
    return ReportError(Rejected("QX.CLI.internal", std::nullopt,
                                std::string("internal error: ") + what));
  } catch (...) {
    std::fputs("qcow2ref: QX.CLI.internal: internal error\n", stderr);
    return kExitRejected;
  }
}

}  // namespace

int RunGuarded(int (*run)(int, char**), int argc, char** argv) noexcept {
  // SPEC(QX.CLI.internal): no exception escapes main (it would abort).
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return InternalFailure(e.what());
  } catch (...) {
    return InternalFailure("unknown exception");
  }
}

}  // namespace qcow2ref::cli
