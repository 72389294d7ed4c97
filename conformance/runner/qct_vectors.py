"""Loading the vector manifests (vectors/qcow2_<area>_test.json).

Mirrors conformance/vector_manifest.cc: same fields, same order (manifests
sorted by file name, tests in manifest order).
"""
import glob
import hashlib
import json
import os



def load_features(root):
    """[(name, assumed)] from vectors/features.json, the feature vocabulary."""
    with open(os.path.join(root, "vectors", "features.json")) as f:
        return [(d["name"], bool(d.get("assumed"))) for d in json.load(f)["features"]]


def load_clause_kinds(root):
    """{clause id: kind} from spec/clauses/*.json ({} when absent)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(root, "spec", "clauses", "*.json"))):
        with open(path) as f:
            for c in json.load(f):
                if isinstance(c, dict) and "id" in c:
                    out[c["id"]] = c.get("kind")
    return out


def load_list(root, name):
    """A published list vectors/lists/NAME.json (None when absent)."""
    path = os.path.join(root, "vectors", "lists", name + ".json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class Vector(object):
    """One test of a manifest, with paths resolved against the workspace."""

    def __init__(self, root, manifest, area, t):
        self.raw = t
        self.id = t["id"]
        self.verdict = t["verdict"]
        self.image = os.path.join(root, "vectors", t["image"])
        self.image_sha256 = t.get("sha256")
        self.chain = [os.path.join(root, "vectors", c) for c in t.get("chain", [])]
        self.clauses = list(t.get("clauses", []))
        self.features = list(t.get("features", []))
        self.importance = t.get("importance")
        self.expect = t.get("expect", {}) or {}
        self.manifest = manifest
        self.area = area
        self.timeout_class = t.get("timeout") or self.expect.get("timeout")
        self.kind = None        # Kind of the primary clause (spec/clauses), set by the loader.
        self.readings = None    # Acceptable readings of an i_ vector (vectors/lists).
        self.stage = self.expect.get("stage") if self.verdict == "invalid" else None
        self.impl_limit = False  # Listed in vectors/lists/impl_limits.json.
        sec = t.get("secrets") or {}
        self.passphrases = []
        if "passphrase_hex" in sec:
            self.passphrases.append(bytes.fromhex(sec["passphrase_hex"]))
        for o in sec.get("other_passphrases_hex", []) or []:
            self.passphrases.append(bytes.fromhex(o))

    @property
    def primary_clause(self):
        return self.clauses[0] if self.clauses else None

    def files(self):
        """(source path, staged base name) for the image and its chain."""
        out = [(c, os.path.basename(c)) for c in self.chain]
        out.append((self.image, os.path.basename(self.image)))
        return out


def load_vectors(root):
    vectors = []
    kinds = load_clause_kinds(root)
    readings = (load_list(root, "acceptable_readings") or {}).get("vectors", {})
    limits = {r["id"] for r in (load_list(root, "impl_limits") or {}).get("vectors", [])}
    for path in sorted(glob.glob(os.path.join(root, "vectors", "qcow2_*_test.json"))):
        name = os.path.basename(path)
        with open(path) as f:
            m = json.load(f)
        area = m.get("area") or name[len("qcow2_"):-len("_test.json")]
        for t in m.get("tests", []):
            v = Vector(root, name, area, t)
            v.kind = kinds.get(v.primary_clause)
            v.readings = readings.get(v.id)
            v.impl_limit = v.id in limits
            vectors.append(v)
    return vectors


def suite_identity(root):
    """{version, commit}: version is a digest of the manifests (the vector
    set's identity); commit is the git HEAD when the workspace is a checkout."""
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, "vectors", "qcow2_*_test.json"))):
        h.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    commit = None
    try:
        import subprocess
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


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
