// One function per subcommand; each returns the process exit code.
#ifndef QCOW2REF_TOOLS_QCOW2REF_COMMANDS_H_
#define QCOW2REF_TOOLS_QCOW2REF_COMMANDS_H_

namespace qcow2ref::cli {

int RunInfo(int argc, char** argv);
int RunLuksDump(int argc, char** argv);
int RunMap(int argc, char** argv);
int RunRead(int argc, char** argv);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_COMMANDS_H_
