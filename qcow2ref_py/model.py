"""The typed model of a vector and of a result (conformance/PROTOCOL.md).

One place for what the manifests and results.json hold: the runner, the
scorer, the report and the vector tools use these classes instead of dicts.

The enums subclass `str`, so a member compares, hashes, formats and
serializes (json) exactly as its value: `Outcome.PASS == "PASS"`,
`"%s" % Outcome.PASS == "PASS"`, `json.dumps(Outcome.PASS) == '"PASS"'`.
Results read back from a results.json (plain strings) and results made by
the scorer (members) are therefore interchangeable.
"""
from __future__ import annotations

import dataclasses
import enum
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple


class StrEnum(str, enum.Enum):
    """A str enum that prints as its value (enum.StrEnum is Python 3.11+)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)


class Verdict(StrEnum):
    """What a vector says of its image: y_, n_ and i_ vectors."""
    VALID = "valid"            # must be read exactly as expect says
    INVALID = "invalid"        # must be refused (at expect.stage)
    ACCEPTABLE = "acceptable"  # refusing and one of the listed readings both pass


class Stage(StrEnum):
    """Where an invalid vector's fault shows (expect.stage)."""
    OPEN = "open"      # opening the image must fail
    ACCESS = "access"  # reading the faulty range or snapshot must fail
    CHECK = "check"    # only a checker reports it; a reader may read it


class Outcome(StrEnum):
    """The outcome of one vector (PROTOCOL.md, Scoring)."""
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    CRASH = "CRASH"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"
    XFAIL = "XFAIL"                      # a listed expected failure
    UNEXPECTED_PASS = "UNEXPECTED_PASS"  # listed as failing, but passes


# The order the summaries and reports list outcomes in.
OUTCOMES: List[Outcome] = list(Outcome)
# Outcomes that fail a run.
BAD_OUTCOMES = frozenset({Outcome.FAIL, Outcome.CRASH, Outcome.TIMEOUT, Outcome.ERROR,
                          Outcome.UNEXPECTED_PASS})


class IOutcome(StrEnum):
    """What an implementation did with an i_ vector (or an op script's check)."""
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"


def _hex_secrets(sec: Optional[Dict[str, Any]]) -> List[bytes]:
    sec = sec or {}
    out = []
    if "passphrase_hex" in sec:
        out.append(bytes.fromhex(sec["passphrase_hex"]))
    for o in sec.get("other_passphrases_hex", []) or []:
        out.append(bytes.fromhex(o))
    return out


@dataclasses.dataclass
class Vector:
    """One image vector of a manifest (vectors/qcow2_<area>_test.json), with
    its paths resolved against the workspace and the facts the lists and the
    clause registry add (kind, readings, impl_limit)."""
    raw: Dict[str, Any]            # The manifest entry, as written.
    id: str
    verdict: Verdict
    image: str                     # Absolute path of the image.
    image_sha256: Optional[str]
    chain: List[str]               # Absolute paths of the files it refers to.
    clauses: List[str]             # Primary clause first.
    features: List[str]
    importance: Optional[str]
    expect: Dict[str, Any]
    manifest: str                  # File name of the manifest.
    area: str
    timeout_class: Optional[str]
    stage: Optional[Stage]         # Invalid vectors only.
    passphrases: List[bytes]       # The main one first, then other key slots'.
    kind: Optional[str] = None     # Kind of the primary clause (spec/clauses).
    readings: Optional[Dict[str, Any]] = None  # i_: vectors/lists/acceptable_readings.json.
    impl_limit: bool = False       # Listed in vectors/lists/impl_limits.json.

    @classmethod
    def from_manifest(cls, vec: str, manifest: str, area: str, t: Dict[str, Any]) -> "Vector":
        """Manifest entry `t` of `manifest` (a file name) in the vectors
        directory `vec` (<root>/vectors), whose paths are relative to it."""
        expect = t.get("expect", {}) or {}
        verdict = Verdict(t["verdict"])
        stage = expect.get("stage") if verdict is Verdict.INVALID else None
        return cls(
            raw=t, id=t["id"], verdict=verdict,
            image=os.path.join(vec, t["image"]),
            image_sha256=t.get("sha256"),
            chain=[os.path.join(vec, c) for c in t.get("chain", [])],
            clauses=list(t.get("clauses", [])), features=list(t.get("features", [])),
            importance=t.get("importance"), expect=expect, manifest=manifest, area=area,
            timeout_class=t.get("timeout") or expect.get("timeout"),
            stage=Stage(stage) if stage is not None else None,
            passphrases=_hex_secrets(t.get("secrets")))

    @property
    def primary_clause(self) -> Optional[str]:
        return self.clauses[0] if self.clauses else None

    @property
    def secret(self) -> Optional[bytes]:
        """The passphrase reads use (the first), or None."""
        return self.passphrases[0] if self.passphrases else None

    def files(self) -> List[Tuple[str, str]]:
        """(source path, staged base name) for the image and its chain."""
        out = [(c, os.path.basename(c)) for c in self.chain]
        out.append((self.image, os.path.basename(self.image)))
        return out


@dataclasses.dataclass
class OpScript:
    """One writer op script (vectors/ops/*.json, PROTOCOL.md "Writer
    conformance"): the adapter writes an image from it, the reference judges it."""
    raw: Dict[str, Any]
    id: str
    verdict: Verdict
    clauses: List[str]
    # Manifest entries list their features; generated members of an
    # accumulated vector get them from the model (ops_model.features_of).
    features: List[str]
    importance: str
    expect: Dict[str, Any]
    manifest: str
    area: str
    timeout_class: Optional[str]
    passphrase: Optional[bytes]
    accumulated: Optional[str] = None  # Id of the accumulated vector it belongs to.

    @classmethod
    def from_manifest(cls, raw: Dict[str, Any], manifest: str, area: str = "ops",
                      accumulated: Optional[str] = None) -> "OpScript":
        sec = raw.get("secrets") or {}
        return cls(raw=raw, id=raw["id"], verdict=Verdict(raw.get("verdict", "valid")),
                   clauses=list(raw.get("clauses", [])), features=list(raw.get("features", [])),
                   importance=raw.get("importance", "high"), expect=raw.get("expect", {}),
                   manifest=manifest, area=area, timeout_class=raw.get("timeout"),
                   passphrase=bytes.fromhex(sec["passphrase_hex"])
                   if "passphrase_hex" in sec else None,
                   accumulated=accumulated)

    def files(self) -> List[Tuple[str, str]]:
        return []


@dataclasses.dataclass
class Accumulated:
    """An accumulated op vector: its result is computed from its member
    scripts' results (their guest digests, hashed together)."""
    raw: Dict[str, Any]
    id: str
    manifest: str
    members: List[OpScript]

    @classmethod
    def from_manifest(cls, raw: Dict[str, Any], manifest: str,
                      members: List[OpScript]) -> "Accumulated":
        return cls(raw=raw, id=raw["id"], manifest=manifest, members=members)


# results.json keys in the order they are written; optional ones only when set.
_RESULT_KEYS = ("id", "verdict", "outcome", "i_outcome", "detail", "exit_code", "signal",
                "error_line", "error_token", "error_match", "duration_ms", "invocations",
                "stderr_tail", "clauses", "importance", "features", "area", "checks")


@dataclasses.dataclass
class Result:
    """The result of one vector or op script: one entry of results.json's
    "results" (conformance/schemas). Reads and writes like the dict it is
    serialized to (`r["outcome"]`, `r.get("warning")`, `r.update(...)`), so
    results loaded from JSON and results made by the scorer go through the
    same report code."""
    id: str
    verdict: str
    outcome: Optional[str] = None      # An Outcome.
    i_outcome: Optional[str] = None    # An IOutcome, for i_ passes.
    detail: str = ""
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    error_line: Optional[str] = None
    error_token: Optional[str] = None  # The clause or class the refusal names.
    error_match: Optional[bool] = None  # Does it name the vector's (--strict-errors)?
    duration_ms: int = 0
    invocations: int = 0
    stderr_tail: str = ""
    clauses: List[str] = dataclasses.field(default_factory=list)
    importance: Optional[str] = None
    features: List[str] = dataclasses.field(default_factory=list)
    area: Optional[str] = None
    checks: Dict[str, Any] = dataclasses.field(default_factory=dict)
    # The keys written only when they apply, in the order they were set:
    # kind, stage, impl_limit (image vectors), warning (a `warn` reading),
    # expected (listed in the expectations); read them as the properties below.
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def kind(self) -> Optional[str]:
        """The kind of the vector's primary clause (MUST, IMPL_LIMIT, ...)."""
        return self.extra.get("kind")

    @property
    def stage(self) -> Optional[str]:
        """An invalid vector's Stage."""
        return self.extra.get("stage")

    @property
    def impl_limit(self) -> bool:
        return bool(self.extra.get("impl_limit"))

    @property
    def warning(self) -> Optional[str]:
        """Why an accepted reading of grade `warn` deserves a warning."""
        return self.extra.get("warning")

    @property
    def expected(self) -> List[str]:
        """The outcomes the expectations list for it ([] when not listed)."""
        return list(self.extra.get("expected") or [])

    # --- the dict view (results.json) ---
    def to_dict(self) -> Dict[str, Any]:
        out = {k: getattr(self, k) for k in _RESULT_KEYS}
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Result":
        known = {k: d[k] for k in _RESULT_KEYS if k in d}
        return cls(extra={k: v for k, v in d.items() if k not in _RESULT_KEYS}, **known)

    def __getitem__(self, key: str) -> Any:
        if key in _RESULT_KEYS:
            return getattr(self, key)
        return self.extra[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _RESULT_KEYS:
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def __contains__(self, key: object) -> bool:
        return key in _RESULT_KEYS or key in self.extra

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def keys(self) -> List[str]:
        return list(self.to_dict())

    def update(self, *args: Any, **kw: Any) -> None:
        for k, v in dict(*args, **kw).items():
            self[k] = v
