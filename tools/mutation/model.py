"""Types of the mutation catalogue (tools/mutation/catalogue.py).

A mutant is one reviewable source edit: in `path` (relative to the
repository root), the text `anchor` must occur exactly once and is replaced
by `replacement`. `targets` are the Bazel test targets expected to kill it
(the narrowest that should notice). Python standard library only.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Tuple


class Category(enum.Enum):
    DROP_CHECK = "drop a check"
    FLIP_COMPARISON = "flip a comparison"
    OFF_BY_ONE = "off-by-one on a limit or range"
    REMOVE_BARRIER = "remove a flush barrier"
    SWAP_IV_BASIS = "swap the IV basis"
    DROP_REFCOUNT = "drop a refcount update"
    WRONG_CONSTANT = "wrong constant or field"
    WRONG_VALUE = "wrong computed value"
    DROP_STATEMENT = "drop a statement"


class Outcome(enum.Enum):
    KILLED = "killed"
    SURVIVED = "survived"
    INVALID = "invalid"  # does not build
    TIMEOUT = "timeout"  # counted as killed: the tests did not pass


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    path: str
    category: Category
    anchor: str
    replacement: str
    targets: Tuple[str, ...]
    note: str = ""
    # Why no test can kill it (an equivalent or unreachable mutant), when
    # that has been argued in docs/mutation.md; such survivors are counted
    # apart in the figure.
    equivalent: str = ""

    def apply(self, text: str) -> str:
        """The mutated text; raises ValueError unless anchor occurs once."""
        n = text.count(self.anchor)
        if n != 1:
            raise ValueError(
                f"{self.id}: anchor occurs {n} times in {self.path}: {self.anchor!r}")
        return text.replace(self.anchor, self.replacement, 1)
