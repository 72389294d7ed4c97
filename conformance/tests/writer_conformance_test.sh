#!/usr/bin/env bash
# Writer conformance (conformance/PROTOCOL.md, "Writer conformance"): the
# qcow2ref adapter's `write` over every op script and the accumulated vector,
# judged by the reference checker and reader. Then proof that the check can
# fail: tampered expectations and a deliberately broken writer must FAIL.
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
T=${TEST_TMPDIR:-$(mktemp -d)}
OUT=${TEST_UNDECLARED_OUTPUTS_DIR:-$T}

echo "== reference adapter: every op script and the accumulated vector must PASS"
"${RUN[@]}" --adapter conformance/adapters/qcow2ref --ops-only -j 4 -q "${AS[@]}" \
  --json "$OUT/writer_results.json"
"$PY" - "$OUT/writer_results.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ids = {r["id"]: r["outcome"] for r in d["results"]}
assert ids.get("y_ops_accumulated_v1") == "PASS", ids.get("y_ops_accumulated_v1")
n = sum(1 for i in ids if i.startswith("y_ops_") and not i.startswith("y_ops_acc"))
assert n >= 10, n
assert d["summary"]["skip"] == 0 and d["summary"]["pass"] == d["summary"]["total"], d["summary"]
print("writer results: %d scripts + accumulated, all PASS" % n)
PY

echo "== tampered expectations must FAIL (and the untampered short accumulated must PASS)"
"$PY" - vectors "$T" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tools"))
import ops_model
vec, t = sys.argv[1], sys.argv[2]
d = json.load(open(os.path.join(vec, "ops/qcow2_ops_test.json")))
d["tests"] = [x for x in d["tests"] if x["id"] in ("y_ops_v3_c64k_basic", "y_ops_luks_c4k")]
for x in d["tests"]:
    h = x["expect"]["guest_sha256"]
    x["expect"]["guest_sha256"] = h[:-1] + ("1" if h[-1] == "0" else "0")
json.dump(d, open(os.path.join(t, "bad_ops.json"), "w"))
a = json.load(open(os.path.join(vec, "ops/accumulated_ops_v1.json")))
a["generator"]["count"] = 3
a["id"] = "y_ops_accumulated_short"
a["expect"]["accumulated_sha256"] = ops_model.accumulated_digest(a["generator"])[0]
json.dump(a, open(os.path.join(t, "good_acc.json"), "w"))
a["id"] = "y_ops_accumulated_tampered"
a["expect"]["accumulated_sha256"] = "00" * 32
json.dump(a, open(os.path.join(t, "bad_acc.json"), "w"))
PY
rc=0
"${RUN[@]}" --adapter conformance/adapters/qcow2ref --ops-only -j 4 -q "${AS[@]}" \
  --ops-file "$T/bad_ops.json" --ops-file "$T/bad_acc.json" --json "$T/bad.json" || rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: tampered run exited $rc, want 1"; exit 1; }
"$PY" - "$T/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
o = {r["id"]: r["outcome"] for r in d["results"]}
want_fail = ["y_ops_v3_c64k_basic", "y_ops_luks_c4k", "y_ops_accumulated_tampered"]
assert all(o[i] == "FAIL" for i in want_fail), o
assert d["summary"]["fail"] == 3, d["summary"]
print("tampered: %s FAIL as they must" % ", ".join(want_fail))
PY
"${RUN[@]}" --adapter conformance/adapters/qcow2ref --ops-only -j 4 -q "${AS[@]}" \
  --ops-file "$T/good_acc.json"

echo "== self-test: the broken writer must be caught"
"${RUN[@]}" --self-test --ops-only -j 4 "${AS[@]}" --ops-file vectors/ops/qcow2_ops_test.json
echo "writer conformance: OK"
