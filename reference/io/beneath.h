// Opening a name beneath a directory, decided by the kernel at open time:
// no symlink, ".." or absolute name may take the resolution out of the
// directory (QX.BK.resolve_beneath).
#ifndef QCOW2REF_REFERENCE_IO_BENEATH_H_
#define QCOW2REF_REFERENCE_IO_BENEATH_H_

#include <sys/types.h>

#include <string>

namespace qcow2ref {

// Opens `name` relative to the directory `dirfd` with open(2) `flags` and
// `mode`. Uses openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS where
// the kernel has it, otherwise OpenBeneathWalk. Returns the descriptor, or -1
// with errno set: EXDEV when the name leaves the directory, ELOOP for a
// symlink the resolution may not follow.
int OpenBeneath(int dirfd, const std::string& name, int flags, mode_t mode);

// The fallback: one component at a time with O_NOFOLLOW, so no symlink is
// followed at all (stricter than openat2, which follows symlinks that stay
// beneath); ".." may only return to a directory the walk entered. Exposed
// for tests.
int OpenBeneathWalk(int dirfd, const std::string& name, int flags, mode_t mode);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_BENEATH_H_
