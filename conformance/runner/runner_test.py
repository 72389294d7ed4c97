#!/usr/bin/env python3
"""Unit tests of the conformance runner (python3 -m unittest / bazel test
//conformance:runner_unit_test).

Two layers: the scoring logic with synthetic invocation outcomes, and the
process layer (Executor) with tiny throw-away adapters, proving that wrong
bytes, a crash, a timeout, an oversized output and a modified input are each
caught and never scored as a pass.
"""
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import unittest

if __name__ == "__main__":
    # Run as a script: qcow2ref_py is at the root of this checkout.
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import qct_exec  # noqa: E402
import qct_report  # noqa: E402
import qct_score as S  # noqa: E402
from qcow2ref_py import manifests, model  # noqa: E402
from qcow2ref_py.model import Vector  # noqa: E402

DATA = b"\x11" * 4096 + b"\0" * 4096
SHA = hashlib.sha256(DATA).hexdigest()
ALL = {"protocol": 1, "name": "t", "version": "0", "commands": ["capabilities", "read", "map"],
       "features": ["v3", "luks", "snapshots"]}


def vec(verdict="valid", expect=None, **kw):
    t = {"id": kw.pop("id", "y_t_x"), "verdict": verdict, "image": "images/t/x.qcow2",
         "clauses": kw.pop("clauses", ["Q2.HDR.magic", "Q2.HDR.version"]),
         "features": kw.pop("features", ["v3"]), "importance": "high", "expect": expect or {}}
    t.update(kw)
    return Vector.from_manifest("/nonexistent/vectors", "qcow2_t_test.json", "t", t)


def inv(exit_code=0, data=b"", signal=None, timed_out=False, modified=(), capped=False, err=b""):
    i = qct_exec.Invocation()
    i.exit_code, i.signal, i.timed_out, i.stdout_capped = exit_code, signal, timed_out, capped
    i.stdout = data
    i.stdout_len = len(data)
    i.stdout_sha256 = hashlib.sha256(data).hexdigest()
    i.modified = list(modified)
    i.stderr_head = i.stderr_tail = err
    if signal is not None or timed_out:
        i.exit_code = None
    return i


class Fake(object):
    """invoke() that answers from a function of (command, args, secret)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, command, args, secret, cap, keep):
        self.calls.append((command, list(args), secret))
        return self.fn(command, list(args), secret)


def score(v, fn, caps=ALL, **opts):
    f = Fake(fn)
    return S.score_vector(v, S.Sut(caps), f, S.Options(**opts)), f


VALID = {"virtual_size": len(DATA), "guest_sha256": SHA}


class ValidTest(unittest.TestCase):
    def test_exact_bytes_pass(self):
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, DATA))
        self.assertEqual(r["outcome"], S.PASS, r["detail"])

    def test_wrong_sha_fails(self):
        bad = b"\x11" * 4095 + b"\x12" + b"\0" * 4096
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, bad))
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("wrong content", r["detail"])

    def test_wrong_length_fails(self):
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, DATA[:-1]))
        self.assertEqual(r["outcome"], S.FAIL)
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, DATA + b"\0", capped=True))
        self.assertEqual(r["outcome"], S.FAIL)

    def test_crash_is_crash(self):
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(signal=11))
        self.assertEqual(r["outcome"], S.CRASH)
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(134))  # shell: 128 + SIGABRT
        self.assertEqual(r["outcome"], S.CRASH)

    def test_timeout_is_timeout(self):
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(timed_out=True))
        self.assertEqual(r["outcome"], S.TIMEOUT)

    def test_modified_input_fails_even_with_right_bytes(self):
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, DATA, modified=["x.qcow2"]))
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("modified", r["detail"])

    def test_reject_valid_fails_unsupported_skips_usage_errors(self):
        self.assertEqual(score(vec(expect=VALID), lambda c, a, s: inv(1))[0]["outcome"], S.FAIL)
        self.assertEqual(score(vec(expect=VALID), lambda c, a, s: inv(2))[0]["outcome"], S.SKIP)
        self.assertEqual(score(vec(expect=VALID), lambda c, a, s: inv(3))[0]["outcome"], S.ERROR)

    def test_missing_feature_skips_without_running(self):
        r, f = score(vec(expect=VALID, features=["v3", "xdf"]), lambda c, a, s: inv(0, DATA))
        self.assertEqual(r["outcome"], S.SKIP)
        self.assertEqual(f.calls, [])
        caps = dict(ALL)
        r, f = S.score_vector(vec(expect=VALID, features=["v3", "luks"]),
                              S.Sut(caps, minus=["luks"]), Fake(lambda c, a, s: inv(0, DATA))), None
        self.assertEqual(r["outcome"], S.SKIP)

    def test_slices_snapshots_and_every_passphrase(self):
        e = dict(VALID, reads=[{"offset": 4096, "length": 4096,
                                "sha256": hashlib.sha256(DATA[4096:]).hexdigest()}],
                 snapshots=[{"name": "s1", "guest_sha256": SHA, "virtual_size": len(DATA)}])
        v = vec(expect=e, secrets={"passphrase_hex": "61", "other_passphrases_hex": ["62"]})

        def fn(c, a, s):
            if "--offset" in a:
                o, n = int(a[a.index("--offset") + 1]), int(a[a.index("--length") + 1])
                return inv(0, DATA[o:o + n])
            return inv(0, DATA if s == b"a" or "--snapshot" in a else b"\0" * len(DATA))
        r, f = score(v, fn)
        self.assertEqual(r["outcome"], S.FAIL)  # the second passphrase reads zeros
        self.assertIn("passphrase #1", r["detail"])
        r, f = score(v, lambda c, a, s: fn(c, a, b"a"))
        self.assertEqual(r["outcome"], S.PASS, r["detail"])
        self.assertIn(("read", ["--snapshot", "s1"], b"a"), f.calls)
        self.assertIn(("read", [], b"b"), f.calls)

    def test_huge_image_reads_slices_only(self):
        e = {"virtual_size": 1 << 40, "reads": [{"offset": 0, "length": 4096,
                                                 "sha256": hashlib.sha256(DATA[:4096]).hexdigest()}]}
        r, f = score(vec(expect=e), lambda c, a, s: inv(0, DATA[:4096]))
        self.assertEqual(r["outcome"], S.PASS, r["detail"])
        self.assertEqual([c[1] for c in f.calls], [["--offset", 0, "--length", 4096]])

    def test_map_compared_with_qemus(self):
        qemu = [{"start": 0, "length": 4096, "depth": 0, "present": True, "zero": False,
                 "data": True, "offset": 65536},
                {"start": 4096, "length": 4096, "depth": 0, "present": False, "zero": True,
                 "data": False}]
        e = dict(VALID, map=qemu)
        ok = json.dumps(qemu).encode()
        r, _ = score(vec(expect=e), lambda c, a, s: inv(0, DATA if c == "read" else ok))
        self.assertEqual(r["outcome"], S.PASS, r["detail"])
        shifted = json.dumps([dict(qemu[0], offset=131072), qemu[1]]).encode()
        r, _ = score(vec(expect=e), lambda c, a, s: inv(0, DATA if c == "read" else shifted))
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("map: offset", r["detail"])
        # qemu's host-hole refinement (zero inside data) is ignored.
        self.assertIsNone(S.map_differences([dict(qemu[0], zero=True), qemu[1]], qemu))
        no_map = dict(ALL, commands=["capabilities", "read"])
        r, f = score(vec(expect=e), lambda c, a, s: inv(0, DATA), caps=no_map)
        self.assertEqual([c[0] for c in f.calls], ["read"])


class InvalidTest(unittest.TestCase):
    E = {"stage": "open", "error_class": "header"}

    def test_reject_passes_accept_fails(self):
        r, _ = score(vec("invalid", self.E, id="n_t_x"),
                     lambda c, a, s: inv(1, err=b"qcow2ref: Q2.HDR.magic: bad magic (at byte 0)\n"))
        self.assertEqual(r["outcome"], S.PASS)
        self.assertTrue(r["error_match"])
        r, _ = score(vec("invalid", self.E, id="n_t_x"), lambda c, a, s: inv(0, DATA))
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("accepted invalid image", r["detail"])

    def test_strict_error_token(self):
        for line, want in ((b"error: header: x\n", True), (b"qcow2ref: Q2.HDR.version: x\n", False),
                           (b"something went wrong\n", False)):
            r, _ = score(vec("invalid", self.E, id="n_t_x"), lambda c, a, s: inv(1, err=line))
            self.assertEqual(r["outcome"], S.PASS)
            self.assertEqual(r["error_match"], want, line)

    def test_unsupported_refusal(self):
        r, _ = score(vec("invalid", self.E, id="n_t_x"), lambda c, a, s: inv(2))
        self.assertEqual(r["outcome"], S.PASS)
        r, _ = score(vec("invalid", self.E, id="n_t_x"), lambda c, a, s: inv(2),
                     unsupported_is_skip=True)
        self.assertEqual(r["outcome"], S.SKIP)

    def test_access_stage_bad_reads_and_snapshot(self):
        e = {"stage": "access", "error_class": "metadata", "bad_reads": [{"offset": 0, "length": 512}]}
        r, _ = score(vec("invalid", e, id="n_t_x"), lambda c, a, s: inv(0 if not a else 1, DATA))
        self.assertEqual(r["outcome"], S.FAIL)  # whole read returned the faulty range
        r, _ = score(vec("invalid", e, id="n_t_x"), lambda c, a, s: inv(1 if not a else 0, b"\0" * 512))
        self.assertEqual(r["outcome"], S.FAIL)  # the slice itself returned data
        self.assertIn("faulty range", r["detail"])
        e = {"stage": "access", "error_class": "metadata", "snapshot": "s1"}
        v = vec("invalid", e, id="n_t_x", features=["v3", "snapshots"])
        r, _ = score(v, lambda c, a, s: inv(1) if "--snapshot" in a else inv(0, DATA))
        self.assertEqual(r["outcome"], S.PASS, r["detail"])
        r, _ = score(v, lambda c, a, s: inv(0, DATA))
        self.assertEqual(r["outcome"], S.FAIL)

    def test_oversized_output_is_an_acceptance(self):
        r, _ = score(vec("invalid", self.E, id="n_t_x"), lambda c, a, s: inv(capped=True))
        self.assertEqual(r["outcome"], S.FAIL)


class CheckStageTest(unittest.TestCase):
    E = {"stage": "check", "error_class": "metadata", "finding": "corruption",
         "readable": {"virtual_size": len(DATA), "guest_sha256": SHA}}
    CAPS = dict(ALL, commands=["capabilities", "read", "check"])

    @staticmethod
    def answer(read, check):
        return lambda c, a, s: read if c == "read" else check

    def test_reader_only_adapter_reads_or_refuses(self):
        v = vec("invalid", self.E, id="n_t_x")
        for read in (inv(0, DATA), inv(1)):
            r, f = score(v, lambda c, a, s: read)
            self.assertEqual(r["outcome"], S.PASS, r["detail"])
            self.assertEqual(r["checks"]["check"], S.SKIP)
            self.assertEqual([c[0] for c in f.calls], ["read"])
        r, _ = score(v, lambda c, a, s: inv(0, DATA[::-1]))
        self.assertEqual(r["outcome"], S.FAIL)  # read, but not what qemu-img reads
        r, _ = score(v, lambda c, a, s: inv(signal=11))
        self.assertEqual(r["outcome"], S.CRASH)

    def test_checker_must_report_the_fault(self):
        v = vec("invalid", self.E, id="n_t_x", clauses=["Q2.RC.max_references"])
        found = json.dumps({"corruptions": 1, "leaks": 0, "findings": [
            {"severity": "corruption", "clause": "Q2.RC.max_references"}]}).encode()
        r, _ = score(v, self.answer(inv(0, DATA), inv(0, found)), caps=self.CAPS)
        self.assertEqual(r["outcome"], S.PASS, r["detail"])
        self.assertTrue(r["checks"]["check_clause"])
        clean = b'{"corruptions": 0, "leaks": 2, "check-errors": 0}'
        r, _ = score(v, self.answer(inv(0, DATA), inv(0, clean)), caps=self.CAPS)
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("reported no corruption", r["detail"])
        r, _ = score(v, self.answer(inv(1), inv(0, b"not json")), caps=self.CAPS)
        self.assertEqual(r["outcome"], S.FAIL)
        r, _ = score(v, self.answer(inv(0, DATA), inv(1, err=b"error: cannot open\n")),
                     caps=self.CAPS)
        self.assertEqual(r["outcome"], S.PASS)  # refusing to check is noticing
        r, _ = score(v, self.answer(inv(0, DATA), inv(signal=6)), caps=self.CAPS)
        self.assertEqual(r["outcome"], S.CRASH)

    def test_warning_findings(self):
        e = dict(self.E, finding="warning")
        v = vec("invalid", e, id="n_t_x")
        r, _ = score(v, self.answer(inv(0, DATA), inv(0, b'{"corruptions": 0}')), caps=self.CAPS)
        self.assertEqual((r["outcome"], r["checks"]["check"]), (S.PASS, S.SKIP))
        r, _ = score(v, self.answer(inv(0, DATA), inv(0, b'{"corruptions": 0, "warnings": 0}')),
                     caps=self.CAPS)
        self.assertEqual(r["outcome"], S.FAIL)
        r, _ = score(v, self.answer(inv(0, DATA), inv(0, b'{"corruptions": 0, "warnings": 1}')),
                     caps=self.CAPS)
        self.assertEqual(r["outcome"], S.PASS, r["detail"])


class AcceptableTest(unittest.TestCase):
    E = {"if_accepted": {"virtual_size": len(DATA), "guest_sha256": SHA}}

    def test_both_ways(self):
        v = vec("acceptable", self.E, id="i_t_x")
        r, _ = score(v, lambda c, a, s: inv(1))
        self.assertEqual((r["outcome"], r["i_outcome"]), (S.PASS, "REJECT"))
        r, _ = score(v, lambda c, a, s: inv(0, DATA))
        self.assertEqual((r["outcome"], r["i_outcome"]), (S.PASS, "ACCEPT"))
        r, _ = score(v, lambda c, a, s: inv(0, DATA[::-1]))
        self.assertEqual((r["outcome"], r["i_outcome"]), (S.FAIL, "ACCEPT"))
        r, _ = score(v, lambda c, a, s: inv(signal=6))
        self.assertEqual(r["outcome"], S.CRASH)


class ExpectationsTest(unittest.TestCase):
    def test_text_and_json(self):
        e = S.parse_expectations("# c\ny_a: FAIL  # bug 1\nn_b: TIMEOUT, CRASH\n")
        self.assertEqual(e["y_a"], {"expected": ["FAIL"], "reason": "bug 1"})
        self.assertEqual(e["n_b"]["expected"], ["TIMEOUT", "CRASH"])
        j = S.parse_expectations('{"y_a": {"expected": "FAIL", "reason": "r"}, "n_b": "CRASH"}')
        self.assertEqual(j["n_b"]["expected"], ["CRASH"])
        with self.assertRaises(ValueError):
            S.parse_expectations("y_a: BOGUS\n")

    def test_xfail_unexpected_pass_and_changed_failure(self):
        e = S.parse_expectations("y_a: FAIL # r\n")
        r = S.apply_expectations({"id": "y_a", "outcome": S.FAIL, "detail": "d"}, e)
        self.assertEqual(r["outcome"], S.XFAIL)
        r = S.apply_expectations({"id": "y_a", "outcome": S.PASS, "detail": "d"}, e)
        self.assertEqual(r["outcome"], S.UNEXPECTED_PASS)
        r = S.apply_expectations({"id": "y_a", "outcome": S.CRASH, "detail": "d"}, e)
        self.assertEqual(r["outcome"], S.CRASH)
        r = S.apply_expectations({"id": "y_b", "outcome": S.FAIL, "detail": "d"}, e)
        self.assertEqual(r["outcome"], S.FAIL)
        text = S.emit_expectations([{"id": "y_c", "outcome": S.TIMEOUT, "detail": "slow"}], "t")
        self.assertEqual(S.parse_expectations(text)["y_c"]["expected"], ["TIMEOUT"])


class ReportTest(unittest.TestCase):
    def doc(self, name, outcomes):
        res = [{"id": i, "verdict": "valid", "outcome": o, "i_outcome": None, "detail": "",
                "clauses": ["Q2.X.y"], "area": "t"} for i, o in outcomes]
        return {"protocol": 1, "suite": {"version": "v", "commit": None},
                "sut": {"name": name, "version": "1", "capabilities": {}},
                "run_info": {}, "summary": S.summarize(res), "results": res}

    def test_regress_and_matrix(self):
        old = self.doc("a", [("y_1", S.PASS), ("y_2", S.FAIL), ("y_3", S.PASS)])
        new = self.doc("a", [("y_1", S.FAIL), ("y_2", S.PASS), ("y_3", S.PASS)])
        text, n = qct_report.regress(old, new)
        self.assertEqual(n, 1)
        self.assertIn("newly failing: 1", text)
        self.assertIn("newly passing: 1", text)
        self.assertEqual(qct_report.regress(old, old)[1], 0)
        md = qct_report.render_matrix_md([old, new])
        self.assertIn("Disagreements (2 of 3", md)
        html = qct_report.render_matrix_html([old, new])
        self.assertNotIn("http", html.split("<body>")[1])  # no external assets


class SchemaTest(unittest.TestCase):
    def test_result_records_carry_the_schema_fields(self):
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "schemas", "results_v1.json")
        with open(path) as f:
            schema = json.load(f)
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, DATA))
        for k in schema["$defs"]["result"]["required"]:
            self.assertIn(k, r)
        self.assertEqual(set(schema["$defs"]["outcome"]["enum"]), set(S.OUTCOMES))
        for k in schema["properties"]["summary"]["required"]:
            self.assertIn(k, S.summarize([r]))


class ModelTest(unittest.TestCase):
    """qcow2ref_py.model: the typed vector and result."""

    def test_vector_from_a_manifest_entry(self):
        v = vec("invalid", dict(INVALID, stage="access"), chain=["images/t/b.raw"],
                secrets={"passphrase_hex": "6162", "other_passphrases_hex": ["63"]})
        self.assertIs(v.verdict, model.Verdict.INVALID)
        self.assertIs(v.stage, model.Stage.ACCESS)
        self.assertEqual(v.image, "/nonexistent/vectors/images/t/x.qcow2")
        self.assertEqual(v.files(), [("/nonexistent/vectors/images/t/b.raw", "b.raw"),
                                     ("/nonexistent/vectors/images/t/x.qcow2", "x.qcow2")])
        self.assertEqual(v.passphrases, [b"ab", b"c"])
        self.assertEqual(v.secret, b"ab")
        self.assertEqual(v.primary_clause, "Q2.HDR.magic")
        self.assertIsNone(vec("valid", dict(VALID, stage="open")).stage)  # invalid only
        with self.assertRaises(ValueError):
            vec("maybe")

    def test_enums_read_and_print_as_their_values(self):
        self.assertEqual("%s|%-6s|%s" % (S.PASS, model.Verdict.VALID, S.PASS.lower()),
                         "PASS|valid |pass")
        self.assertEqual(json.dumps({S.FAIL: [model.IOutcome.ACCEPT]}), '{"FAIL": ["ACCEPT"]}')
        self.assertEqual({"PASS": 1}[S.PASS], 1)

    def test_result_is_the_results_json_record(self):
        r, _ = score(vec("invalid", INVALID), lambda c, a, s: inv(1, err=b"x: Q2.HDR.magic: no"))
        self.assertIsInstance(r, model.Result)
        d = r.to_dict()
        self.assertEqual(list(d)[:4], ["id", "verdict", "outcome", "i_outcome"])
        self.assertEqual(list(d)[-3:], ["kind", "stage", "impl_limit"])
        self.assertEqual((d["outcome"], d["error_token"], d["error_match"]),
                         ("PASS", "Q2.HDR.magic", True))
        back = model.Result.from_dict(json.loads(json.dumps(d)))
        self.assertEqual(back.to_dict(), json.loads(json.dumps(d)))
        self.assertEqual((r.kind, r.stage, r.impl_limit, r.expected), (None, "open", False, []))
        r["expected"] = ["FAIL"]
        self.assertEqual((r.get("expected"), r.get("warning", "none")), (["FAIL"], "none"))
        self.assertEqual((r.expected, r.warning), (["FAIL"], None))
        self.assertEqual(list(r.to_dict())[-1], "expected")


class ReaderPlanTest(unittest.TestCase):
    """The rules as data: what the scorer follows and the C++ suites read."""

    def test_valid_reads_in_scoring_order(self):
        e = dict(VALID, reads=[{"offset": 4096, "length": 4096, "sha256": "b" * 64}],
                 snapshots=[{"name": "s1", "guest_sha256": "c" * 64, "virtual_size": 512}])
        v = vec(expect=e, secrets={"passphrase_hex": "61", "other_passphrases_hex": ["62"]})
        got = [(r.group, r.what, r.args, r.passphrase, r.size, r.sha256, r.base)
               for r in S.valid_reads(v)]
        self.assertEqual(got, [
            ("read", "read", [], 0, len(DATA), SHA, 0),
            ("reads", "read 4096+4096", ["--offset", 4096, "--length", 4096], 0, 4096,
             "b" * 64, 4096),
            ("passphrases", "passphrase #1", [], 1, len(DATA), SHA, 0),
            ("snapshots", "snapshot s1", ["--snapshot", "s1"], 0, 512, "c" * 64, 0)])
        # Without guest_sha256 the other passphrases read the first slice.
        e = {"virtual_size": 1 << 40, "reads": [{"offset": 0, "length": 8, "sha256": "d" * 64}]}
        v = vec(expect=e, secrets={"passphrase_hex": "61", "other_passphrases_hex": ["62"]})
        self.assertEqual([(r.what, r.args, r.base) for r in S.valid_reads(v)][1:],
                         [("passphrase #1 read", ["--offset", 0, "--length", 8], 0)])

    def test_refusals_and_accepted_readings(self):
        n = vec("invalid", INVALID)
        self.assertEqual(S.refusal_tokens(n), ["Q2.HDR.magic", "header"])
        i = vec("acceptable", {"if_rejected": {"error_class": "header"},
                               "if_accepted": {"virtual_size": 8, "guest_sha256": "e" * 64}})
        self.assertEqual(S.refusal_tokens(i), ["Q2.HDR.magic", "Q2.HDR.version", "header"])
        self.assertEqual(S.accepted_readings(i),
                         [{"virtual_size": 8, "guest_sha256": "e" * 64, "name": "if_accepted"}])
        i.readings = {"accepted": [{"name": "host", "grade": "warn", "why": "w"}]}
        self.assertEqual(S.accepted_readings(i), i.readings["accepted"])
        self.assertEqual(S.accepted_readings(vec("acceptable", {})), [{"name": "any"}])
        c = vec("invalid", {"stage": "check", "readable": {"virtual_size": 8,
                                                           "guest_sha256": "f" * 64}})
        plan = S.reader_plan("/nonexistent", [n, c, vec(expect=VALID)])["vectors"]
        self.assertEqual([(p["id"], p.get("refusal"), "reads" in p) for p in plan], [
            ("y_t_x", {"required": True, "tokens": ["Q2.HDR.magic", "header"]}, False),
            ("y_t_x", {"required": False, "tokens": ["Q2.HDR.magic"]}, False),
            ("y_t_x", None, True)])
        self.assertEqual(plan[1]["accepted"],
                         [{"name": "readable", "virtual_size": 8, "guest_sha256": "f" * 64}])
        self.assertEqual(plan[0]["image"], "vectors/images/t/x.qcow2")

    def test_plan_covers_every_vector_of_the_checkout(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        vectors = manifests.load_vectors(root)
        plan = S.reader_plan(root, vectors)["vectors"]
        self.assertEqual([p["id"] for p in plan], [v.id for v in vectors])
        for p in plan:
            self.assertTrue(os.path.isfile(os.path.join(root, p["image"])), p["id"])
            if p["verdict"] == "valid":
                self.assertTrue(p["reads"], p["id"])
            else:
                self.assertTrue(p["refusal"]["tokens"] and p["accepted"] is not None, p["id"])


P2 = dict(ALL, protocol=2)
INVALID = {"stage": "open", "error_class": "header"}


class ProtocolTest(unittest.TestCase):
    """Exit statuses under protocol 2 (and protocol 1's crash signatures)."""

    def n(self, exit_code, err=b"", caps=P2):
        return score(vec("invalid", INVALID, id="n_t_x"),
                     lambda c, a, s: inv(exit_code, err=err), caps=caps)[0]

    def test_protocol_2_only_65_and_69_refuse(self):
        self.assertEqual(self.n(65, b"error: header: bad magic\n")["outcome"], S.PASS)
        r = self.n(69)
        self.assertEqual((r["outcome"], r["detail"]), (S.PASS, "rejected as unsupported (exit 69)"))
        self.assertEqual(self.n(64)["outcome"], S.ERROR)
        for code, what in ((1, "Python"), (2, "Go panic"), (101, "Rust panic"), (3, "")):
            r = self.n(code)
            self.assertEqual(r["outcome"], S.CRASH, (code, r["detail"]))
            self.assertIn(what, r["detail"])

    def test_go_panic_is_a_crash_even_under_protocol_1(self):
        panic = b"panic: runtime error: index out of range\n\ngoroutine 1 [running]:\n"
        r = self.n(2, panic, caps=ALL)
        self.assertEqual(r["outcome"], S.CRASH)
        self.assertIn("Go panic", r["detail"])
        tb = b"Traceback (most recent call last):\n  File \"a.py\"\nKeyError: 3\n"
        self.assertEqual(self.n(1, tb, caps=ALL)["outcome"], S.CRASH)
        self.assertEqual(self.n(1, b"error: header: bad\n", caps=ALL)["outcome"], S.PASS)
        self.assertEqual(self.n(2, b"unsupported\n", caps=ALL)["outcome"], S.PASS)

    def test_valid_image_codes(self):
        e = {"virtual_size": len(DATA), "guest_sha256": SHA}
        r, _ = score(vec(expect=e), lambda c, a, s: inv(69), caps=P2)
        self.assertEqual(r["outcome"], S.SKIP)
        r, _ = score(vec(expect=e), lambda c, a, s: inv(65), caps=P2)
        self.assertEqual(r["outcome"], S.FAIL)
        r, _ = score(vec(expect=e), lambda c, a, s: inv(2), caps=P2)
        self.assertEqual(r["outcome"], S.CRASH)

    def test_oom_only_with_evidence(self):
        r = score(vec("invalid", INVALID, id="n_t_x"), lambda c, a, s: inv(signal=6), caps=P2)[0]
        self.assertEqual(r["outcome"], S.CRASH)
        self.assertEqual(r["detail"], "read: killed by SIGABRT")
        r = score(vec("invalid", INVALID, id="n_t_x"),
                  lambda c, a, s: inv(signal=6, err=b"terminate called after throwing an "
                                      b"instance of 'std::bad_alloc'\n"), caps=P2)[0]
        self.assertIn("out of memory", r["detail"])
        self.assertIn("std::bad_alloc", r["detail"])


class RunnerFixesTest(unittest.TestCase):
    def test_short_whole_read_is_not_called_the_faulty_range(self):
        e = {"stage": "access", "error_class": "metadata",
             "bad_reads": [{"offset": 65536, "length": 4096}]}
        r, _ = score(vec("invalid", e, id="n_t_x"), lambda c, a, s: inv(0, b"\0" * 4096), caps=P2)
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("4096 bytes, short of the faulty range 65536+4096", r["detail"])
        r, _ = score(vec("invalid", e, id="n_t_x"), lambda c, a, s: inv(0, b"\0" * 69632), caps=P2)
        self.assertIn("69632 bytes, including the faulty range", r["detail"])

    def test_strict_match_only_for_refusals_that_are_the_verdict(self):
        r, _ = score(vec(expect=VALID), lambda c, a, s: inv(0, DATA), caps=P2)
        self.assertIsNone(r["error_match"])
        r = score(vec("invalid", INVALID, id="n_t_x"),
                  lambda c, a, s: inv(65, err=b"x: header: no\n"), caps=P2)[0]
        self.assertIs(r["error_match"], True)
        import run
        doc = {"sut": {"name": "t", "version": "0"}, "summary": S.summarize([r])}
        doc["summary"]["strict_error_mismatch"] = 3
        self.assertNotIn("strict_error_mismatch", run.summary_line(doc))
        self.assertIn("strict_error_mismatch 3", run.summary_line(doc, strict_errors=True))

    def test_empty_or_truncated_map_fails(self):
        qemu = [{"start": 0, "length": 4096, "depth": 0, "present": True, "zero": False,
                 "data": True, "offset": 65536},
                {"start": 4096, "length": 4096, "depth": 0, "present": False, "zero": True,
                 "data": False}]
        self.assertIn("covers 0 bytes", S.map_differences([], qemu))
        self.assertIn("covers 4096 bytes", S.map_differences(qemu[:1], qemu))
        self.assertIn("entry at 4096, expected one at 0", S.map_differences(qemu[1:], qemu))
        self.assertIsNone(S.map_differences(qemu, qemu))
        e = dict(VALID, map=qemu)
        r, _ = score(vec(expect=e), lambda c, a, s: inv(0, DATA if c == "read" else b"[]"))
        self.assertEqual(r["outcome"], S.FAIL)

    def test_content_diff_names_offset_and_extent(self):
        want = DATA
        got = DATA[:5000] + b"\x99" + DATA[5001:]
        qemu = [{"start": 0, "length": 4096, "depth": 0, "present": True, "zero": False,
                 "data": True}, {"start": 4096, "length": 4096, "depth": 0, "present": False,
                                 "zero": True, "data": False}]
        d = S.content_diff(got, want, 0, len(want), qemu)
        self.assertEqual(d["first_difference"], 5000)
        self.assertEqual([(x["start"], x["length"], x["expected"]) for x in d["extents"]],
                         [(4096, 4096, "zeros")])
        self.assertIn("first difference at offset 5000 (expected 0x00, got 0x99)", d["summary"])
        # Without the expected bytes, zero extents are still checked.
        d = S.content_diff(got, None, 0, len(want), qemu)
        self.assertIsNone(d["first_difference"])
        self.assertEqual([x["start"] for x in d["extents"]], [4096])
        # Through the scorer: the expected bytes come from a callback, used
        # only when their sha256 is the vector's.
        e = dict(VALID, map=qemu)
        opts = {"expected_bytes": lambda v, a, s: want}
        r, _ = score(vec(expect=e), lambda c, a, s: inv(0, got), **opts)
        self.assertIn("first difference at offset 5000", r["detail"])
        opts = {"expected_bytes": lambda v, a, s: got}  # wrong hash: ignored
        r, _ = score(vec(expect=e), lambda c, a, s: inv(0, got), **opts)
        self.assertNotIn("first difference", r["detail"])
        self.assertIn("[4096, +4096) zero", r["detail"])

    def test_acceptable_readings(self):
        literal, truncated = DATA, DATA[:4096]
        v = vec("acceptable", {"if_accepted": {"virtual_size": 4096,
                                               "guest_sha256": hashlib.sha256(truncated).hexdigest()}},
                id="i_t_x")
        v.readings = {"accepted": [
            {"name": "qemu", "virtual_size": 4096, "guest_sha256": hashlib.sha256(truncated).hexdigest()},
            {"name": "spec", "virtual_size": 8192, "guest_sha256": SHA}]}
        for data, name in ((literal, "spec"), (truncated, "qemu")):
            r, _ = score(v, lambda c, a, s: inv(0, data), caps=P2)
            self.assertEqual((r["outcome"], r["i_outcome"]), (S.PASS, "ACCEPT"), r["detail"])
            self.assertIn(name, r["detail"])
        r, _ = score(v, lambda c, a, s: inv(0, DATA[:6000]), caps=P2)
        self.assertEqual(r["outcome"], S.FAIL)
        r, _ = score(v, lambda c, a, s: inv(65), caps=P2)
        self.assertEqual((r["outcome"], r["i_outcome"]), (S.PASS, "REJECT"))
        v.readings = {"accepted": [{"name": "host file", "grade": "warn", "why": "read /etc"}]}
        r, _ = score(v, lambda c, a, s: inv(0, b"root:x:0:0"), caps=P2)
        self.assertEqual(r["outcome"], S.PASS)
        self.assertEqual(r["warning"], "read /etc")
        self.assertEqual(S.summarize([r])["warn"], 1)

    def test_regress_skips(self):
        def doc(*rs):
            return {"sut": {"name": "t", "version": "0"},
                    "results": [{"id": i, "outcome": o, "detail": ""} for i, o in rs]}
        text, n = qct_report.regress(doc(("a", "FAIL"), ("b", "PASS"), ("c", "FAIL")),
                                     doc(("a", "SKIP"), ("b", "SKIP"), ("c", "PASS")))
        self.assertEqual(n, 0)
        self.assertIn("newly passing: 1\n  c ", text)
        self.assertIn("lost coverage (passed, now SKIP): 1\n  b ", text)
        self.assertIn("no longer judged (failed, now SKIP; not a pass): 1\n  a ", text)

    def test_filters_features_and_argv(self):
        import run
        y = vec(expect=VALID, features=["v3", "backing"])
        n = vec("invalid", dict(INVALID, stage="check"), id="n_t_y")
        n.kind = "IMPL_LIMIT"
        n.impl_limit = True
        self.assertEqual(run.select([y, n], [], [], run.Filters(stages=["check"])), [n])
        self.assertEqual(run.select([y, n], [], [], run.Filters(stages=["valid"])), [y])
        self.assertEqual(run.select([y, n], [], [], run.Filters(kinds=["impl_limit"])), [n])
        self.assertEqual(run.select([y, n], [], [], run.Filters(skip_impl_limits=True)), [y])
        self.assertEqual(run.select([y, n], [], [], run.Filters(features=["backing"])), [y])
        self.assertEqual(run.select([y, n], [], [], run.Filters(importance=["low"])), [])
        vocab = ["v3", "cluster_bits_9", "cluster_bits_16", "luks"]
        self.assertEqual(run.parse_features("-cluster_bits_*,+cluster_bits_16", vocab),
                         (["cluster_bits_9", "cluster_bits_16"], ["cluster_bits_16"]))
        with self.assertRaises(SystemExit):
            run.parse_features("-nosuch", vocab)
        self.assertEqual(run.fix_dash_values(["--features", "-luks,-aes", "--run", "x"]),
                         ["--features=-luks,-aes", "--run", "x"])
        sut = S.Sut({"features": ["v3"]}, minus=["cluster_bits_9"],
                    assumed=["cluster_bits_9", "cluster_bits_16"])
        self.assertEqual(sut.features, {"v3", "cluster_bits_16"})


class DocsTest(unittest.TestCase):
    """PROTOCOL.md shows what the code does."""
    CONF = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def read(self, *p):
        with open(os.path.join(self.CONF, *p)) as f:
            return f.read()

    def test_example_adapter_is_the_committed_one(self):
        doc = self.read("PROTOCOL.md")
        a = doc.index("```sh\n#!/bin/sh\n# A complete minimal adapter")
        self.assertEqual(doc[a + len("```sh\n"):doc.index("```", a + 5)],
                         self.read("adapters", "example-qemu-img.sh"))

    def test_no_path_outside_the_repository(self):
        import re
        texts = [self.read("PROTOCOL.md")] + [self.read("runner", n) for n in os.listdir(
            os.path.join(self.CONF, "runner")) if n.endswith(".py")]
        for t in texts:
            self.assertIsNone(re.search(r"(?<![\w.])/(work|home|tmp/|root)/?\w*/", t))

    def test_every_broken_adapter_is_documented_and_exists(self):
        import run
        doc = self.read("PROTOCOL.md")
        for b in run.SELF_TEST_ADAPTERS + run.SELF_TEST_WRITERS:
            self.assertIn("| `%s` |" % b.name, doc)
            self.assertTrue(os.access(os.path.join(run.BROKEN_DIR, b.name), os.X_OK), b.name)


class ExecutorTest(unittest.TestCase):
    """Real processes: the isolation and limits of qct_exec."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.tmp, "vectors", "images", "t"))
        self.img = os.path.join(self.tmp, "vectors", "images", "t", "x.qcow2")
        with open(self.img, "wb") as f:
            f.write(DATA)
        self.v = Vector.from_manifest(os.path.join(self.tmp, "vectors"), "m", "t", {"id": "y_t_x", "verdict": "valid",
                                             "image": "images/t/x.qcow2", "clauses": ["Q2.HDR.magic"],
                                             "features": [], "expect": dict(VALID)})

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def adapter(self, body):
        p = os.path.join(self.tmp, "adapter")
        with open(p, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(p, 0o755)
        return p

    def run_one(self, body, scale=1.0, **kw):
        ex = qct_exec.Executor(self.adapter(body), tmp_root=self.tmp, timeout_scale=scale)
        ex.protocol = 1  # ALL declares protocol 1: these bodies use its exit codes
        return S.score_vector(self.v, S.Sut(ALL),
                              lambda c, a, s, cap, keep: ex.invoke(self.v, c, a, s, cap, keep))

    def test_honest_copy_passes(self):
        r = self.run_one('[ "$QCOW2CT_PROTOCOL" = 2 ] || exit 3; cat "$3"')
        self.assertEqual(r["outcome"], S.PASS, r["detail"])

    def test_wrong_bytes(self):
        r = self.run_one('head -c 8192 /dev/zero')
        self.assertEqual(r["outcome"], S.FAIL)

    def test_crash(self):
        r = self.run_one('cat "$3"; kill -SEGV $$')
        self.assertEqual(r["outcome"], S.CRASH)
        self.assertEqual(r["signal"], 11)

    def test_timeout_kills_the_process_group(self):
        r = self.run_one('sleep 30 & sleep 30', scale=0.05)
        self.assertEqual(r["outcome"], S.TIMEOUT)
        self.assertLess(r["duration_ms"], 5000)

    def test_modified_image(self):
        r = self.run_one('chmod u+w "$3"; printf Z >> "$3"; cat "$3" | head -c 8192')
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("modified", r["detail"])
        with open(self.img, "rb") as f:
            self.assertEqual(f.read(), DATA)  # the vector itself is untouched

    def test_endless_output_is_cut(self):
        r = self.run_one('cat /dev/zero')
        self.assertEqual(r["outcome"], S.FAIL)
        self.assertIn("longer than", r["detail"])

    def test_secret_is_a_0600_file_not_argv(self):
        self.v.passphrases = [b"pw\0\n"]
        body = ('for a; do case "$a" in pw*) exit 3;; esac; done; '
                'f=$5; [ "$(stat -c %a "$f")" = 600 ] || exit 3; '
                '[ "$(od -An -c "$f" | tr -d " ")" = "pw\\0\\n" ] || exit 3; cat "$3"')
        r = self.run_one(body)
        self.assertEqual(r["outcome"], S.PASS, r["detail"])

    def test_image_is_staged_read_only(self):
        r = self.run_one('[ -w "$3" ] && [ "$(id -u)" != 0 ] && exit 3; '
                         '[ "$(stat -c %a "$3")" = 444 ] || exit 3; cat "$3"')
        self.assertEqual(r["outcome"], S.PASS, r["detail"])



class OpsTest(unittest.TestCase):
    """Writer conformance (qct_ops): a fake writer that stores the guest bytes raw and a
    fake reference whose `check` prints $FAKE_CHECK and whose `read` cats the image."""

    def setUp(self):
        import qct_ops
        self.ops = qct_ops
        self.tmp = tempfile.mkdtemp()
        self.ref = self.script("ref", 'case $1 in check) echo "$FAKE_CHECK";; '
                                      'read) cat "$3";; esac')
        self.v = qct_ops.OpScript.from_manifest(
            {"id": "y_ops_t", "verdict": "valid", "clauses": ["Q2.HDR.magic"],
             "create": {"size": len(DATA), "version": 3}, "ops": [],
             "expect": {"guest_sha256": SHA}}, "m")
        self.data = os.path.join(self.tmp, "data")
        with open(self.data, "wb") as f:
            f.write(DATA)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def script(self, name, body):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(p, 0o755)
        return p

    def score(self, writer_body, check='{"corruptions": 0, "leaks": 0}', commands=("write",),
              protocol=1):
        os.environ["FAKE_CHECK"] = check
        ex = qct_exec.Executor(self.script("w", writer_body), tmp_root=self.tmp)
        ex.protocol = protocol
        sut = S.Sut(dict(ALL, protocol=protocol,
                         commands=["capabilities", "read"] + list(commands)))
        return self.ops.score_script(self.v, sut, ex, self.ref)

    def test_right_content_passes(self):
        r = self.score('[ "$1 $2 $3 $4 $5" = "write --ops ops.json --out out.qcow2" ] && cp %s out.qcow2' % self.data)
        self.assertEqual(r["outcome"], S.PASS, r["detail"])

    def test_leaks_are_not_fatal(self):
        r = self.score("cp %s out.qcow2" % self.data, check='{"corruptions": 0, "leaks": 3}')
        self.assertEqual(r["outcome"], S.PASS, r["detail"])
        self.assertEqual(r["checks"]["check"]["leaks"], 3)

    def test_corruption_fails(self):
        r = self.score("cp %s out.qcow2" % self.data, check='{"corruptions": 1, "leaks": 0}')
        self.assertEqual(r["outcome"], S.FAIL)

    def test_wrong_content_fails(self):
        r = self.score("head -c 8192 /dev/zero > out.qcow2")
        self.assertEqual(r["outcome"], S.FAIL)

    def test_short_content_fails(self):
        r = self.score("head -c 4096 %s > out.qcow2" % self.data)
        self.assertEqual(r["outcome"], S.FAIL)

    def test_no_output_fails(self):
        self.assertEqual(self.score("exit 0")["outcome"], S.FAIL)

    def test_refusal_fails_unsupported_skips(self):
        self.assertEqual(self.score("exit 1")["outcome"], S.FAIL)
        self.assertEqual(self.score("exit 2")["outcome"], S.SKIP)
        self.assertEqual(self.score("kill -SEGV $$")["outcome"], S.CRASH)

    def test_protocol_2_codes(self):
        self.assertEqual(self.score("exit 65", protocol=2)["outcome"], S.FAIL)
        self.assertEqual(self.score("exit 69", protocol=2)["outcome"], S.SKIP)
        self.assertEqual(self.score("exit 64", protocol=2)["outcome"], S.ERROR)
        r = self.score("exit 1", protocol=2)
        self.assertEqual(r["outcome"], S.CRASH)
        self.assertIn("Python", r["detail"])

    def test_no_write_command_skips(self):
        self.assertEqual(self.score("exit 0", commands=())["outcome"], S.SKIP)

    def test_accumulated_digest(self):
        members = [self.ops.OpScript.from_manifest(dict(self.v.raw, id="y_ops_a%d" % i), "m")
                   for i in range(2)]
        good = hashlib.sha256(bytes.fromhex(SHA) * 2).hexdigest()
        agg = self.ops.Accumulated.from_manifest(
            {"id": "y_ops_acc", "clauses": ["Q2.HDR.magic"],
             "expect": {"accumulated_sha256": good}}, "m", members)
        res = {m.id: {"outcome": S.PASS, "invocations": 3, "duration_ms": 1,
                      "checks": {"guest_sha256": SHA}} for m in members}
        self.assertEqual(self.ops.score_accumulated(agg, res)["outcome"], S.PASS)
        agg.raw["expect"]["accumulated_sha256"] = "0" * 64
        self.assertEqual(self.ops.score_accumulated(agg, res)["outcome"], S.FAIL)
        res["y_ops_a1"]["outcome"] = S.FAIL
        agg.raw["expect"]["accumulated_sha256"] = good
        self.assertEqual(self.ops.score_accumulated(agg, res)["outcome"], S.FAIL)


class FuzzClassifyTest(unittest.TestCase):
    """run.py fuzz: the classes of a disagreement and the minimizer."""

    def read(self, status, data=b"", err="", timed_out=False, signal=None):
        import qct_fuzz
        from qct_protocol import Status
        st = {"ok": Status.OK, "rejected": Status.REJECTED, "unsupported": Status.UNSUPPORTED,
              "usage": Status.USAGE, "crash": Status.CRASH, None: None}[status]
        return qct_fuzz.Read(status=st, timed_out=timed_out, capped=False, signal=signal,
                             length=len(data),
                             sha256=hashlib.sha256(data).hexdigest(), data=data,
                             first_stderr=err, argv=())

    def test_classes(self):
        import qct_fuzz
        O = qct_fuzz.Outcome
        ok, rej = self.read("ok", b"abcd"), self.read("rejected", err="qcow2ref: Q2.HDR.magic: bad")
        self.assertEqual(qct_fuzz.classify(rej, self.read("rejected"), "hdr").outcome, O.AGREE)
        v = qct_fuzz.classify(rej, self.read("ok", b"x"), "hdr")
        self.assertEqual((v.outcome, v.key), (O.PEER_ACCEPTS_INVALID, "Q2.HDR.magic"))
        v = qct_fuzz.classify(ok, self.read("rejected", err="error: bad 12 at 34"), "map")
        self.assertEqual((v.outcome, v.key), (O.PEER_REFUSES_VALID, "error: bad N at N"))
        v = qct_fuzz.classify(ok, self.read("ok", b"abXd"), "map")
        self.assertEqual((v.outcome, v.first_difference), (O.BYTES_DIFFER, 2))
        v = qct_fuzz.classify(ok, self.read("ok", b"abc"), "map")
        self.assertEqual((v.outcome, v.first_difference), (O.BYTES_DIFFER, 3))
        self.assertEqual(qct_fuzz.classify(ok, self.read("ok", b"abcd"), "map").outcome, O.AGREE)
        self.assertEqual(qct_fuzz.classify(ok, self.read(None, signal=11), "map").outcome,
                         O.PEER_CRASH)
        self.assertEqual(qct_fuzz.classify(ok, self.read("crash", err="panic:"), "map").outcome,
                         O.PEER_CRASH)
        self.assertEqual(qct_fuzz.classify(ok, self.read(None, timed_out=True), "map").outcome,
                         O.PEER_TIMEOUT)
        self.assertEqual(qct_fuzz.classify(ok, self.read("unsupported"), "map").outcome,
                         O.NOT_COMPARED)
        self.assertEqual(qct_fuzz.classify(self.read("usage", err="give its passphrase"), ok,
                                           "enc").outcome, O.NOT_COMPARED)
        self.assertEqual(qct_fuzz.classify(self.read(None, timed_out=True), ok, "map").outcome,
                         O.REFERENCE_FAILED)
        self.assertEqual(qct_fuzz.classify(self.read("crash"), ok, "map").outcome,
                         O.REFERENCE_FAILED)

    def test_first_difference_across_blocks(self):
        import qct_fuzz
        a = bytes(200000)
        for at in (0, 65535, 65536, 131073, 199999):
            b = bytearray(a)
            b[at] = 1
            self.assertEqual(qct_fuzz.first_difference(a, bytes(b), len(a)), at)
        self.assertEqual(qct_fuzz.first_difference(a, a, len(a)), len(a))

    def test_minimize_keeps_only_the_bytes_that_matter(self):
        import qct_fuzz
        original = bytes(64)
        mutated = bytearray(original)
        for i in (3, 10, 40, 41, 63):
            mutated[i] = 0xff
        mutated += b"tail"
        # The "disagreement" needs byte 40 changed, nothing else.
        small = qct_fuzz.minimize(original, bytes(mutated), lambda b: len(b) > 40 and b[40] == 0xff)
        self.assertEqual(len(small), 64)
        self.assertEqual([i for i in range(64) if small[i] != 0], [40])


if __name__ == "__main__":
    unittest.main()
