"""The one reader of the vector manifests (vectors/qcow2_<area>_test.json)
and of what the runner adds to them (vectors/features.json, vectors/lists/,
spec/clauses/*.json).

Manifests are read sorted by file name, tests in manifest order.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from qcow2ref_py.model import Vector


def manifest_paths(vec: str) -> List[str]:
    """The image-vector manifests of the vectors directory `vec`, sorted."""
    return sorted(glob.glob(os.path.join(vec, "qcow2_*_test.json")))


def read_manifests(vec: str) -> List[Tuple[str, Dict[str, Any]]]:
    """[(manifest file name, its JSON document)] of `vec`, sorted by name."""
    out = []
    for path in manifest_paths(vec):
        with open(path) as f:
            out.append((os.path.basename(path), json.load(f)))
    return out


def manifest_tests(vec: str) -> List[Tuple[str, Dict[str, Any]]]:
    """[(manifest file name, test entry)] of every image vector, in order."""
    return [(name, t) for name, m in read_manifests(vec) for t in m.get("tests", [])]


def read_vectors(vec: str) -> List[Vector]:
    """Every image vector of the vectors directory `vec`, as the manifests
    give it (no kind, readings or impl_limit: load_vectors adds them)."""
    out = []
    for name, m in read_manifests(vec):
        area = m.get("area") or name[len("qcow2_"):-len("_test.json")]
        out += [Vector.from_manifest(vec, name, area, t) for t in m.get("tests", [])]
    return out


def load_features(root: str) -> List[Tuple[str, bool]]:
    """[(name, assumed)] from vectors/features.json, the feature vocabulary."""
    with open(os.path.join(root, "vectors", "features.json")) as f:
        return [(d["name"], bool(d.get("assumed"))) for d in json.load(f)["features"]]


def load_clause_kinds(root: str) -> Dict[str, Optional[str]]:
    """{clause id: kind} from spec/clauses/*.json ({} when absent)."""
    return clause_kinds(os.path.join(root, "spec"))


def clause_kinds(spec: str) -> Dict[str, Optional[str]]:
    """{clause id: kind} from the registry directory `spec` (its clauses/*.json)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(spec, "clauses", "*.json"))):
        with open(path) as f:
            for c in json.load(f):
                if isinstance(c, dict) and "id" in c:
                    out[c["id"]] = c.get("kind")
    return out


def load_list(root: str, name: str) -> Optional[Any]:
    """A published list vectors/lists/NAME.json (None when absent)."""
    path = os.path.join(root, "vectors", "lists", name + ".json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_vectors(root: str) -> List[Vector]:
    """Every image vector below the workspace `root`, typed, with its kind,
    acceptable readings and impl_limit flag."""
    vectors = []
    kinds = load_clause_kinds(root)
    readings = (load_list(root, "acceptable_readings") or {}).get("vectors", {})
    limits = {r["id"] for r in (load_list(root, "impl_limits") or {}).get("vectors", [])}
    for v in read_vectors(os.path.join(root, "vectors")):
        v.kind = kinds.get(v.primary_clause)
        v.readings = readings.get(v.id)
        v.impl_limit = v.id in limits
        vectors.append(v)
    return vectors


def suite_identity(root: str) -> Dict[str, Optional[str]]:
    """{version, commit}: version is a digest of the manifests (the vector
    set's identity); commit is the git HEAD when the workspace is a checkout."""
    h = hashlib.sha256()
    for path in manifest_paths(os.path.join(root, "vectors")):
        h.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    commit = None
    try:
        r = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"],
                           capture_output=True, text=True, timeout=5)
        if r.returncode == 0:
            commit = r.stdout.strip()
            d = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "vectors"],
                               capture_output=True, text=True, timeout=5)
            if d.returncode == 0 and d.stdout.strip():
                commit += "+dirty"
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": "manifests-" + h.hexdigest()[:16], "commit": commit}
