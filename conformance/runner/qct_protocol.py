"""Adapter exit codes: what an exit status means under each protocol version.

Protocol 2 (current) gives the three answers an adapter chooses on purpose codes
that no language runtime produces by itself (BSD sysexits.h values), so that a
crash can never be read as a refusal:

  0   success: stdout is the answer
  65  EX_DATAERR     rejected: the implementation refuses the input
  69  EX_UNAVAILABLE unsupported: a command, option or feature it does not have
  64  EX_USAGE       the adapter was called wrongly (a bug in adapter or runner)

Every other exit status, and every signal, is a crash: 1 is an uncaught Python
exception (or a C/Go `exit(1)` that did not mean a rejection), 2 an unrecovered
Go panic, 101 a Rust panic, 134 an abort reported through a shell.

Protocol 1 (deprecated, still accepted) used 1 = rejected, 2 = unsupported,
3 = usage error. Those codes are what crashing runtimes return, so under
protocol 1 an exit 1 or 2 whose stderr carries a crash signature (a Python
traceback, a Go or Rust panic, a sanitizer report) is scored as a crash.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Dict, Optional, Tuple

CURRENT = 2
SUPPORTED = (1, 2)


class Status(enum.Enum):
    OK = "ok"
    REJECTED = "rejected"
    UNSUPPORTED = "unsupported"
    USAGE = "usage"
    CRASH = "crash"


@dataclasses.dataclass(frozen=True)
class ExitCodes:
    rejected: int
    unsupported: int
    usage: int

    def status(self, code: int) -> Status:
        if code == 0:
            return Status.OK
        return {self.rejected: Status.REJECTED, self.unsupported: Status.UNSUPPORTED,
                self.usage: Status.USAGE}.get(code, Status.CRASH)


CODES: Dict[int, ExitCodes] = {
    1: ExitCodes(rejected=1, unsupported=2, usage=3),
    2: ExitCodes(rejected=65, unsupported=69, usage=64),
}

# Exit statuses that runtimes produce on their own, for the crash detail.
RUNTIME_EXITS: Dict[int, str] = {
    1: "exit 1 is what an uncaught Python exception returns; a rejection is 65",
    2: "exit 2 is what an unrecovered Go panic (or an argparse error) returns",
    101: "exit 101 is what a Rust panic returns",
    126: "the adapter could not be executed",
    127: "command not found",
}

# stderr text that shows a runtime crash, not a deliberate answer.
CRASH_SIGNATURES: Tuple[Tuple[str, str], ...] = (
    ("Traceback (most recent call last)", "Python traceback"),
    ("goroutine ", "Go panic"),
    ("panic: ", "Go panic"),
    ("panicked at", "Rust panic"),
    ("ERROR: AddressSanitizer", "AddressSanitizer report"),
    ("runtime error:", "runtime error"),
    ("terminate called", "uncaught C++ exception"),
)

# stderr text that shows an allocation failure: the only evidence for "oom".
OOM_SIGNATURES: Tuple[str, ...] = (
    "std::bad_alloc", "MemoryError", "out of memory", "Out of memory",
    "Cannot allocate memory", "memory allocation of", "failed to allocate",
    "Failed to allocate", "allocation-size-too-big", "requested allocation size",
)


def crash_signature(stderr: str) -> Optional[str]:
    for needle, what in CRASH_SIGNATURES:
        if needle in stderr:
            return what
    return None


def oom_evidence(stderr: str) -> Optional[str]:
    for needle in OOM_SIGNATURES:
        if needle in stderr:
            return needle
    return None


def classify(protocol: int, code: int, stderr: str) -> Tuple[Status, str]:
    """(status, hint) of a process that exited with `code` (no signal)."""
    codes = CODES.get(protocol, CODES[CURRENT])
    st = codes.status(code)
    if st is Status.CRASH:
        hint = RUNTIME_EXITS.get(code, "")
        if not hint and code > 128:
            hint = "exit %d: a shell reporting signal %d?" % (code, code - 128)
        sig = crash_signature(stderr)
        return st, sig or hint
    if protocol == 1 and st in (Status.REJECTED, Status.UNSUPPORTED):
        sig = crash_signature(stderr)
        if sig:
            return Status.CRASH, "%s with exit %d (protocol 1 would read it as %s)" % (
                sig, code, st.value)
    return st, ""
