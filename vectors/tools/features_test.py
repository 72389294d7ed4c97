#!/usr/bin/env python3
"""//vectors:features_test: the derived features and the published lists agree
with what qemu-img reported when the vectors were made (expect.info,
expect.qemu) and with the image files themselves."""
from __future__ import annotations

import json
import math
import os
import struct
import sys
import unittest

ROOT = os.path.join(os.environ.get("TEST_SRCDIR", ""), os.environ.get("TEST_WORKSPACE", "qcow2ref"))
if not os.path.isdir(os.path.join(ROOT, "vectors")):
    ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VEC = os.path.join(ROOT, "vectors")
if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import features  # noqa: E402  (next to this file)
import lists  # noqa: E402


class FeaturesTest(unittest.TestCase):
    def setUp(self):
        self.tests = lists.load_tests(VEC)

    def test_cluster_bits_match_qemu_img_info(self):
        n = 0
        for t in self.tests.values():
            cs = t.raw["expect"].get("info", {}).get("cluster_size")
            if cs is None:
                continue
            n += 1
            self.assertIn("cluster_bits_%d" % int(math.log2(cs)), t.raw["features"], t.id)
        self.assertGreater(n, 50)

    def test_raw_backing_is_a_chain_file_without_qcow2_magic(self):
        # Without an external data file, every chain file is a backing file.
        n = 0
        for t in self.tests.values():
            if "xdf" in t.raw["features"] or not t.raw.get("chain"):
                continue
            raw = False
            for c in t.raw["chain"]:
                with open(os.path.join(VEC, c), "rb") as f:
                    raw |= f.read(4) != b"QFI\xfb"
            n += raw
            self.assertEqual("backing_raw" in t.raw["features"], raw, t.id)
        self.assertGreater(n, 0)

    def test_bitmaps_validate_is_the_bitmap_refusals(self):
        want = {t.id for t in self.tests.values()
                if t.id.startswith(("n_bm_", "n_bmx_")) and t.raw["expect"]["stage"] != "check"}
        got = {t.id for t in self.tests.values() if "bitmaps_validate" in t.raw["features"]}
        self.assertEqual(got, want)
        self.assertGreaterEqual(len(want), 13)  # issue #14 named 13; new ones add to them

    def test_every_feature_is_in_the_vocabulary(self):
        names = {f.name for f in features.load(VEC)}
        for t in self.tests.values():
            self.assertLessEqual(set(t.raw["features"]), names, t.id)


class ListsTest(unittest.TestCase):
    def setUp(self):
        self.tests = lists.load_tests(VEC)

    def load(self, name):
        with open(os.path.join(VEC, "lists", name + ".json")) as f:
            return json.load(f)

    def test_qemu_list_agrees_with_the_manifests_qemu_field(self):
        # expect.qemu came from qemu-img info + convert when the vectors were built.
        rows = self.load("qemu_accepts_invalid")["vectors"]
        for r in rows:
            t = self.tests[r["id"]]
            self.assertEqual(t.verdict, "invalid")
            if r["qemu"] == "accepts" and "snapshot" not in r:
                self.assertEqual(t.raw["expect"]["qemu"], "accepts", r["id"])

    def test_spec_literal_reading_is_the_header_size(self):
        t = self.tests["i_hdr_size_not_sector_multiple"]
        with open(os.path.join(VEC, t.raw["image"]), "rb") as f:
            size = struct.unpack(">Q", f.read(32)[24:32])[0]
        r = self.load("acceptable_readings")["vectors"][t.id]["accepted"]
        self.assertEqual({x["name"]: x["virtual_size"] for x in r},
                         {"qemu": size // 512 * 512, "spec-literal": size})

    def test_every_i_vector_has_readings_and_impl_limits_are_n(self):
        ar = self.load("acceptable_readings")["vectors"]
        self.assertEqual(set(ar), {t.id for t in self.tests.values() if t.verdict == "acceptable"})
        for r in self.load("impl_limits")["vectors"]:
            self.assertTrue(r["id"].startswith("n_"), r["id"])
            self.assertTrue(r["clause"].startswith("QX.LIMIT.") or r["clause"].startswith("Q2."),
                            r)


if __name__ == "__main__":
    unittest.main()
