#!/usr/bin/env python3
"""build_manifests.py - write vectors/qcow2_<area>_test.json for every area.

Expected values come only from qemu-img 7.2 (info, map, convert), never from the project's
reader. Each image is examined in a private temporary directory holding the image and its
chain files (backing / data files), so relative names stored in images resolve the way a
test harness will resolve them. For n_/i_ images the behaviour of qemu-img is recorded as
evidence ("qemu": accepts|rejects, "qemu_error").

Usage: build_manifests.py            (after make_valid.sh and make_edited.py)
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from qcow2ref_py.files import sha256_file  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.dirname(HERE)
LUKS_PASS = "qcow2ref"

AREA_HEADERS = {
    "hdr": "qcow2 header fields (version 2 and 3 common part): magic, version, cluster size, table offsets and sizes, limits.",
    "hdrv3": "version 3 header fields: feature bits, refcount_order, header_length, compression_type.",
    "ext": "header extensions: area bounds, padding, unknown types, duplicates, backing format name.",
    "fnt": "feature name table header extension.",
    "bmx": "bitmaps header extension.",
    "fde": "full disk encryption header pointer extension (LUKS in qcow2).",
    "rc": "refcount widths 1..64 bits (refcount_order 0..6).",
    "map": "guest-to-host mapping: L1/L2 entries, zero clusters, discard, partial clusters, L2 boundaries.",
    "cmp": "compressed clusters: deflate and zstd, descriptor layout, broken streams.",
    "xl2": "extended L2 entries and subcluster bitmaps.",
    "snap": "internal snapshots: snapshot table and snapshot L1 tables.",
    "bm": "persistent dirty bitmaps: bitmap directory entries.",
    "bk": "backing files: chains, formats, reads past the backing end, loops, host paths.",
    "xdf": "external data files (data_file, data_file_raw).",
}

NOTES = {
    "Basic": {"bugType": "BASIC", "description": "A valid image made by qemu-img/qemu-io 7.2 (or a harmless edit of one); the reader must open it and return exactly the expected guest bytes."},
    "DirtyBit": {"bugType": "BASIC", "description": "Dirty bit set: a read-only reader must still read the data."},
    "CorruptBit": {"bugType": "BASIC", "description": "Corrupt bit set: reading is allowed, writing is not."},
    "BadHeaderField": {"bugType": "MISSING_CHECK", "description": "A header field holds a value the format does not allow; the open must fail."},
    "ShiftRange": {"bugType": "INTEGER_OVERFLOW", "description": "A field used as a shift count (cluster_bits, refcount_order) is out of range; it must be checked before any shift."},
    "OffsetOutOfRange": {"bugType": "OOB_OFFSET", "description": "An offset or length makes a structure leave the region it must stay in (cluster 0)."},
    "TableSize": {"bugType": "MISSING_CHECK", "description": "A table is too small for the virtual size."},
    "TableLimit": {"bugType": "RESOURCE_EXHAUSTION", "description": "A table size above the implementation limit (QEMU's caps); must be refused before allocating."},
    "Unaligned": {"bugType": "MISSING_CHECK", "description": "An offset that must be cluster aligned is not."},
    "UnknownIncompatBit": {"bugType": "MISSING_CHECK", "description": "Unknown incompatible feature bit: the open must fail (silent misinterpretation otherwise)."},
    "FeatureCombination": {"bugType": "MISSING_CHECK", "description": "Two fields or features that must agree (or must not be combined) disagree."},
    "Erratum": {"bugType": "ERRATUM", "description": "QEMU 7.2 and the specification disagree; either behaviour is acceptable if it is exactly the documented one."},
    "ExtensionBounds": {"bugType": "OOB_OFFSET", "description": "A header extension runs past the extension area."},
    "ExtensionFormat": {"bugType": "MISSING_CHECK", "description": "A known header extension has the wrong length, a bad field or appears twice."},
    "OffsetBeyondEof": {"bugType": "OOB_OFFSET", "description": "Metadata or data that lies past the end of its file."},
    "ReservedBits": {"bugType": "ERRATUM", "description": "Reserved bits set in a table entry; QEMU ignores them (data as if masked), a checker reports them."},
    "ZeroFlagV2": {"bugType": "MISSING_CHECK", "description": "Zero flag in a version 2 image (QEMU reports corruption)."},
    "SubclusterState": {"bugType": "MISSING_CHECK", "description": "Impossible extended-L2 subcluster state."},
    "CompressedStream": {"bugType": "MISSING_CHECK", "description": "Broken or truncated compressed stream: decompression must fail cleanly and never return a short or overlong cluster."},
    "Reference": {"bugType": "MISSING_CHECK", "description": "A file the image needs cannot be named or found."},
    "CheckerOnly": {"bugType": "CHECKER_ONLY", "description": "The image breaks a rule that does not change what a reader returns (stage check): a reader may read it (and must then return the qemu-img content in expect.readable) or refuse it; a checker must report the named clause."},
    "RefcountMismatch": {"bugType": "MISSING_CHECK", "description": "A stored refcount disagrees with the references the metadata holds in a way that lets a writer reuse or lose a live cluster."},
    "Overlap": {"bugType": "MISSING_CHECK", "description": "Two structures share a host cluster; a write to one corrupts the other."},
    "CopiedFlag": {"bugType": "MISSING_CHECK", "description": "The COPIED bit disagrees with the refcount; a writer trusting it overwrites shared data in place."},
    "OffsetMismatch": {"bugType": "MISSING_CHECK", "description": "An offset that must equal another (guest and host offset in an external data file) does not."},
    "BitmapDirectory": {"bugType": "MISSING_CHECK", "description": "Bitmap directory entry with a field out of range."},
    "BackingLoop": {"bugType": "RESOURCE_EXHAUSTION", "description": "Backing chain that refers back to itself; QEMU 7.2 recurses; a reader must detect the cycle.", "cves": []},
    "HostPathReference": {"bugType": "UNTRUSTED_REFERENCE", "description": "Backing file named by an absolute host path; opening it leaks host files through the guest view.", "cves": ["CVE-2024-32498"]},
}

# Metadata of the qemu-made valid images (recipe tools/make_valid.sh).
# id -> (clauses, features, importance, chain, comment)
VALID = {
    "y_hdr_v2_c64k_basic": (["Q2.HDR.v2_length", "Q2.HDR.magic", "Q2.HDR.version", "Q2.MAP.l1_index"], ["v2"], "critical", [], "compat=0.10, 64 KiB clusters, 4 MiB; three pattern writes"),
    "y_hdr_v2_c4k_basic": (["Q2.HDR.v2_length", "Q2.MAP.l1_index"], ["v2"], "high", [], "compat=0.10, 4 KiB clusters, 4 MiB; three pattern writes"),
    "y_hdr_v3_c64k_basic": (["Q2.HDR.magic", "Q2.HDR.version", "Q2.HDR.big_endian", "Q2.MAP.l1_index"], ["v3"], "critical", [], "compat=1.1, 64 KiB clusters, 4 MiB; three pattern writes"),
    "y_hdr_v3_c512_basic": (["Q2.HDR.cluster_bits.min", "Q2.MAP.l1_index"], ["v3"], "high", [], "512-byte clusters (cluster_bits 9), 1 MiB; writes incl. the last sector"),
    "y_hdr_v3_c4k_basic": (["Q2.HDR.magic", "Q2.MAP.l1_index", "Q2.MAP.l1_beyond_size", "Q2.FNT.optional_small_clusters"], ["v3"], "high", [], "4 KiB clusters, 4 MiB (2 L1 entries); three pattern writes"),
    "y_hdr_v3_c8k_basic": (["Q2.EXT.start", "Q2.FNT.entry_size", "Q2.MAP.l1_index"], ["v3"], "high", [], "8 KiB clusters, 4 MiB; QEMU writes the feature name table (cluster > 4 KiB)"),
    "y_hdr_v3_c1m_basic": (["QX.LIMIT.cluster_bits_max", "Q2.MAP.l1_index"], ["v3"], "medium", [], "1 MiB clusters (cluster_bits 20), 2 MiB; two 4 KiB writes"),
    "y_hdr_v3_c2m_basic": (["QX.LIMIT.cluster_bits_max", "Q2.MAP.l1_index"], ["v3"], "medium", [], "2 MiB clusters (cluster_bits 21, the maximum), 4 MiB"),
    "y_hdr_v3_size_1t": (["Q2.HDR.l1_size.covers_size", "Q2.MAP.l1_index"], ["v3"], "high", [], "1 TiB virtual size, 64 KiB clusters; writes at 0 and in the last cluster"),
    "y_hdr_v3_size_0": (["Q2.HDR.l1_size.covers_size", "Q2.HDR.empty_table_offsets"], ["v3"], "high", [], "an empty disk as qemu-img create makes it: size 0, l1_size 0, l1_table_offset 0; a reader opens it and reads nothing (found by fuzz:libqcow_diff_fuzzer: libqcow refuses l1_size 0)"),
    "y_hdrv3_lazy_refcounts": (["Q2.HDRV3.incompat.dirty", "Q2.HDRV3.compat.unknown_ignore"], ["v3"], "medium", [], "lazy_refcounts=on (compatible bit 0), 4 KiB clusters; writes (clean close)"),
    "y_map_v3_zero_clusters": (["Q2.MAP.zero_flag", "Q2.MAP.unallocated"], ["v3"], "critical", [], "4 KiB clusters; data then write -z over allocated clusters, write -z -u (unmap), write -z over unallocated clusters and a partial zero write"),
    "y_map_partial_clusters": (["Q2.MAP.l1_index", "Q2.MAP.unallocated"], ["v3"], "high", [], "64 KiB clusters; unaligned writes (100+1000, 65000+1000 across a cluster boundary, 3 bytes, last sector)"),
    "y_map_l2_boundary_c512": (["Q2.MAP.l1_index", "Q2.MAP.l1_entry.offset"], ["v3"], "critical", [], "512-byte clusters (one L2 table maps 32 KiB); writes spanning L2 table boundaries"),
    "y_map_l2_boundary_c4k": (["Q2.MAP.l1_index", "Q2.MAP.l1_entry.offset"], ["v3"], "high", [], "4 KiB clusters (one L2 table maps 2 MiB), 8 MiB; writes spanning the 2, 4 and 6 MiB boundaries"),
    "y_map_discard": (["Q2.MAP.unallocated", "Q2.MAP.zero_flag"], ["v3"], "high", [], "4 KiB clusters; 128 KiB written then discards (whole and partial clusters)"),
    "y_map_v2_data": (["Q2.MAP.unallocated", "Q2.HDR.v2_length"], ["v2"], "high", [], "v2, 4 KiB clusters; data, zero writes (v2 has no zero flag), write across the 2 MiB L2 boundary"),
    "y_cmp_deflate_c64k": (["Q2.CMP.deflate", "Q2.CMP.descriptor", "Q2.CMP.exact_cluster"], ["v3", "compressed"], "critical", [], "deflate compressed clusters (text, mixed, constant pattern) mixed with normal clusters; 64 KiB clusters"),
    "y_cmp_zstd_c64k": (["Q2.CMP.zstd", "Q2.CMP.descriptor", "Q2.CMP.exact_cluster"], ["v3", "zstd", "compressed"], "critical", [], "compression_type=zstd; same writes as y_cmp_deflate_c64k"),
    "y_cmp_deflate_v2": (["Q2.CMP.deflate", "Q2.CMP.descriptor"], ["v2", "compressed"], "high", [], "v2 image with deflate compressed clusters"),
    "y_cmp_deflate_c4k": (["Q2.CMP.descriptor", "Q2.CMP.deflate"], ["v3", "compressed"], "high", [], "4 KiB clusters (descriptor split at bit 58); several compressed clusters sharing host clusters"),
    "y_cmp_deflate_c512": (["Q2.CMP.descriptor", "Q2.CMP.deflate"], ["v3", "compressed"], "high", [], "512-byte clusters (descriptor split at bit 61: one sector-count bit)"),
    "y_cmp_zstd_c4k": (["Q2.CMP.zstd", "Q2.CMP.descriptor"], ["v3", "zstd", "compressed"], "high", [], "zstd, 4 KiB clusters"),
    "y_cmp_deflate_last_partial": (["Q2.CMP.exact_cluster", "Q2.CMP.deflate"], ["v3", "compressed"], "high", [], "virtual size 1 MiB + 4 KiB; the last partial cluster is compressed (padded to a full cluster)"),
    "y_cmp_zstd_last_partial": (["Q2.CMP.exact_cluster", "Q2.CMP.zstd"], ["v3", "zstd", "compressed"], "high", [], "zstd; virtual size 1 MiB + 4 KiB; the last partial cluster is compressed"),
    "y_xl2_c64k_subclusters": (["Q2.XL2.entry", "Q2.XL2.subcluster_states"], ["v3", "xl2"], "critical", [], "extended_l2=on, 64 KiB clusters (2 KiB subclusters); subcluster data and zero writes, whole-cluster zero writes"),
    "y_xl2_c16k_subclusters": (["Q2.XL2.entry", "Q2.XL2.subcluster_states", "Q2.XL2.cluster_bits"], ["v3", "xl2"], "critical", [], "extended_l2=on, 16 KiB clusters (512-byte subclusters, the minimum)"),
    "y_xl2_backing": (["Q2.XL2.subcluster_states", "Q2.MAP.unallocated", "Q2.BK.format"], ["v3", "xl2", "backing"], "critical", ["images/xl2/y_xl2_backing_base.qcow2"], "extended-L2 overlay over a filled qcow2 base: unallocated subclusters show backing data, zero subclusters hide it"),
    "y_xl2_compressed": (["Q2.XL2.compressed_bitmap", "Q2.CMP.descriptor", "Q2.XL2.entry"], ["v3", "xl2", "compressed"], "high", [], "extended_l2=on with compressed clusters (bitmap 0) and a subcluster write"),
    "y_xl2_backing_base": (["Q2.MAP.l1_index"], ["v3"], "low", [], "backing file of y_xl2_backing (4 KiB clusters, 320 KiB of 0x91)"),
    "y_bk_chain3": (["Q2.BK.format", "Q2.BK.name", "Q2.MAP.unallocated", "Q2.MAP.zero_flag"], ["v3", "backing"], "critical", ["images/bk/y_bk_chain3_mid.qcow2", "images/bk/y_bk_chain3_base.raw"], "qcow2 -> qcow2 (-F qcow2) -> raw (-F raw, 512 KiB under a 1 MiB chain); zero write over backing data"),
    "y_bk_chain3_mid": (["Q2.BK.format", "Q2.BK.name"], ["v3", "backing"], "high", ["images/bk/y_bk_chain3_base.raw"], "qcow2 over a raw backing file (-F raw); middle of y_bk_chain3"),
    "y_bk_short_backing": (["Q2.BK.past_end_zero", "Q2.BK.format"], ["v3", "backing"], "critical", ["images/bk/y_bk_short_backing_base.qcow2"], "2 MiB overlay over a 512 KiB qcow2 backing file: reads past the backing end are zero"),
    "y_bk_short_backing_base": (["Q2.MAP.l1_index"], ["v3"], "low", [], "backing file of y_bk_short_backing (512 KiB of 0xb1)"),
    "y_bk_short_raw": (["Q2.BK.past_end_zero", "Q2.BK.format"], ["v3", "backing"], "high", ["images/bk/y_bk_short_raw_base.raw"], "overlay over a raw backing file of 1000448 bytes (ends inside a cluster)"),
    "y_bk_v2_backing": (["Q2.BK.name", "Q2.HDR.v2_length"], ["v2", "backing"], "high", ["images/bk/y_bk_short_backing_base.qcow2"], "v2 overlay (backing name after the extensions) over a qcow2 base"),
    "y_xdf_basic": (["Q2.XDF.host_equals_guest", "Q2.XDF.name_ext", "Q2.MAP.offset0_is_unallocated"], ["v3", "xdf"], "critical", ["images/xdf/y_xdf_basic_data.raw"], "data_file=y_xdf_basic_data.raw (relative); guest cluster 0 at host offset 0 with COPIED"),
    "y_xdf_raw": (["Q2.XDF.host_equals_guest", "Q2.HDRV3.autoclear.raw_requires_xdf"], ["v3", "xdf"], "high", ["images/xdf/y_xdf_raw_data.raw"], "data_file + data_file_raw=on (autoclear bit 1; every L2 entry preallocated 1:1)"),
    "y_snap_two": (["Q2.SNAP.entry_layout", "Q2.SNAP.disk_size", "Q2.SNAP.l1_aligned"], ["v3", "snapshots"], "high", [], "writes, snapshot s1, more writes and a zero write, snapshot s2, more writes; snapshot dates zeroed"),
    "y_snap_v2": (["Q2.SNAP.entry_layout", "Q2.SNAP.l1_aligned"], ["v2", "snapshots"], "medium", [], "v2 image with one snapshot; date zeroed"),
    "y_snap_qemu_padding_past_eof": (["Q2.SNAP.table_bounds", "Q2.SNAP.entry_layout"], ["v3", "snapshots"], "critical", [], "qemu-img snapshot -c as the last write: the table ends the file and its last entry's 8-byte alignment padding is not written (errata #27); date zeroed"),
    "y_bm_basic": (["Q2.BM.entry_layout", "Q2.BMX.length", "Q2.BMX.autoclear_bit", "Q2.BM.count"], ["v3", "bitmaps"], "medium", [], "bitmaps b0 (enabled) and b1 (disabled after some writes), default granularity"),
    "y_bm_granularity": (["Q2.BM.granularity", "Q2.BM.table_size", "Q2.BM.entry_layout"], ["v3", "bitmaps"], "medium", [], "bitmaps with granularity 512 B, 8 KiB (created disabled, later enabled), 2 MiB and 2 GiB"),
    "y_fde_luks_aes128_cbc": (["Q2.FDE.only_luks", "Q2.FDE.length", "Q2.FDE.offset.aligned", "Q2.ENC.payload"], ["v3", "luks"], "high", [], "LUKS (aes-128-cbc-plain64, passphrase qcow2ref, iter-time 10 ms), 4 KiB clusters; random salts: not byte-reproducible"),
}
for _i in (1, 2, 4, 8, 16, 32, 64):
    VALID["y_rc_bits%d" % _i] = (["Q2.RC.width"], ["v3", "refcount_order_%d" % (_i.bit_length() - 1)],
                                 "high", [], "refcount_bits=%d, 4 KiB clusters; writes in three places" % _i)


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(cmd, cwd, timeout=30):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=_limits)
        err = p.stderr
        if p.returncode < 0:
            err += "\nkilled by signal %d (address space limited to 2 GiB)" % -p.returncode
        return p.returncode, p.stdout, err
    except subprocess.TimeoutExpired:
        return -1, "", "timeout after %ds (qemu-img did not finish)" % timeout


class Qemu:
    """qemu-img runs for one image inside a temp dir holding the image and its chain."""

    def __init__(self, image, chain, luks):
        self.dir = tempfile.mkdtemp(prefix="vec_")
        self.name = os.path.basename(image)
        for f in [image] + chain:
            shutil.copyfile(os.path.join(VEC, f), os.path.join(self.dir, os.path.basename(f)))
        self.luks = luks

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _src(self, extra_opts=""):
        if self.luks:
            return ["--object", "secret,id=sec0,data=" + LUKS_PASS, "--image-opts",
                    "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0%s" % (self.name, extra_opts)]
        return ["-f", "qcow2", self.name]

    def _clean(self, err):
        lines = [l for l in err.strip().splitlines() if l.strip()]
        main = [l for l in lines if l.startswith("qemu-img:") or l.startswith("timeout")
                or l.startswith("killed")]
        line = main[0] if main else (lines[0] if lines else "")
        return line.replace(self.dir + "/", "").replace(self.dir, ".")

    def info(self):
        rc, out, err = run(["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", self.name], self.dir)
        return (json.loads(out) if rc == 0 else None), self._clean(err)

    def convert(self, snapshot=None):
        out = os.path.join(self.dir, "__guest.raw")
        cmd = ["qemu-img", "convert", "-U"]
        if snapshot:
            cmd += ["-l", "snapshot.name=" + snapshot]
        cmd += self._src() + ["-O", "raw", out]
        rc, _, err = run(cmd, self.dir, timeout=20)
        if rc != 0:
            if os.path.exists(out):
                os.unlink(out)
            return None, self._clean(err)
        h = sha256_file(out)
        self.last_size = os.path.getsize(out)
        os.unlink(out)
        return h, ""

    def convert_range(self, offset, length):
        out = os.path.join(self.dir, "__range.raw")
        src = ("driver=raw,offset=%d,size=%d,file.driver=qcow2,file.file.filename=%s"
               % (offset, length, self.name))
        rc, _, err = run(["qemu-img", "convert", "-U", "--image-opts", src, "-O", "raw", out],
                         self.dir, timeout=60)
        if rc != 0:
            return None, self._clean(err)
        h = sha256_file(out)
        os.unlink(out)
        return h, ""

    def check(self):
        """qemu-img check's verdict: clean, leaks, corrupt or error (exit 0/3/2/other)."""
        rc, _, _ = run(["qemu-img", "check", "-U"] + self._src(), self.dir, timeout=20)
        return {0: "clean", 2: "corrupt", 3: "leaks"}.get(rc, "error")

    def map(self):
        rc, out, err = run(["qemu-img", "map", "-U", "--output=json"] + self._src(), self.dir)
        if rc != 0:
            return None, self._clean(err)
        keep = ("start", "length", "depth", "present", "zero", "data", "offset")
        return [{k: e[k] for k in keep if k in e} for e in json.loads(out)], ""


def info_summary(info):
    fs = (info.get("format-specific") or {}).get("data", {})
    d = {"version": 3 if fs.get("compat") == "1.1" else 2, "cluster_size": info.get("cluster-size")}
    if "refcount-bits" in fs:
        d["refcount_bits"] = fs["refcount-bits"]
    if "compression-type" in fs:
        d["compression_type"] = fs["compression-type"]
    if "extended-l2" in fs:
        d["extended_l2"] = fs["extended-l2"]
    if info.get("backing-filename"):
        d["backing_filename"] = info["backing-filename"]
    if fs.get("data-file"):
        d["data_file"] = fs["data-file"]
    return d


LARGE = 256 << 20  # above this virtual size, give map + reads instead of a whole-guest hash


def valid_expect(q, tid):
    info, err = q.info()
    if info is None:
        raise SystemExit("qemu-img info failed on valid image %s: %s" % (tid, err))
    if info["virtual-size"] > LARGE:
        return large_expect(q, tid, info)
    g, err = q.convert()
    if g is None:
        raise SystemExit("qemu-img convert failed on valid image %s: %s" % (tid, err))
    exp = {"virtual_size": info["virtual-size"], "guest_sha256": g, "info": info_summary(info)}
    m, err = q.map()
    if m is None:
        raise SystemExit("qemu-img map failed on valid image %s: %s" % (tid, err))
    if len(m) < 100:
        exp["map"] = m
    snaps = info.get("snapshots") or []
    if snaps:
        exp["snapshots"] = []
        for s in snaps:
            sh, err = q.convert(snapshot=s["name"])
            if sh is None:
                raise SystemExit("snapshot convert failed on %s: %s" % (tid, err))
            exp["snapshots"].append({"name": s["name"], "id": s["id"], "guest_sha256": sh,
                                     "virtual_size": q.last_size})
    return exp


def large_expect(q, tid, info):
    """Huge sparse image: hashing the whole guest is too slow, so record the map and the
    sha256 of every extent that holds data (all other bytes read as zero per the map)."""
    m, err = q.map()
    if m is None or len(m) >= 100:
        raise SystemExit("qemu-img map failed on %s: %s" % (tid, err))
    reads = []
    for e in m:
        if e["data"]:
            h, err = q.convert_range(e["start"], e["length"])
            if h is None:
                raise SystemExit("range convert failed on %s: %s" % (tid, err))
            reads.append({"offset": e["start"], "length": e["length"], "sha256": h})
    return {"virtual_size": info["virtual-size"], "info": info_summary(info), "map": m,
            "reads": reads,
            "guest_sha256_omitted": "virtual size above 256 MiB: map plus reads describe the guest; "
                                    "every range not in reads reads as zero"}


def qemu_evidence(q, snapshot=None):
    """(accepts?, error line, info, guest sha). With snapshot, also read that snapshot."""
    info, err = q.info()
    if info is None:
        return False, "qemu-img info: " + err, None, None
    g, err = q.convert()
    if g is None:
        return False, "qemu-img convert: " + err, info, None
    if snapshot:
        sg, err = q.convert(snapshot=snapshot)
        if sg is None:
            return False, "qemu-img convert -l snapshot.name=%s: %s" % (snapshot, err), info, None
    return True, "", info, g


def check_expect(q, exp, ok, info, g, source):
    """Stage "check": what a reader that does not check returns (qemu-img's
    content) and qemu-img check's own verdict. With readable_from_source (QEMU
    refuses the image for a reason that touches no guest data) the content is
    qemu-img's reading of the unedited source."""
    if exp.pop("readable_from_source", False):
        src = Qemu(source[0], source[1], False)
        try:
            ok, err, info, g = qemu_evidence(src)
        finally:
            src.close()
        if not ok:
            raise SystemExit("qemu-img cannot read the source %s: %s" % (source[0], err))
    if ok:
        exp["readable"] = {"virtual_size": info["virtual-size"], "guest_sha256": g}
    exp["qemu_check"] = q.check()


def main():
    qver = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    tests = []
    present = {}
    for root, _, files in os.walk(os.path.join(VEC, "images")):
        for f in files:
            if f.endswith(".qcow2"):
                present[os.path.splitext(f)[0]] = os.path.relpath(os.path.join(root, f), VEC)
    # valid qemu-made images
    for tid, (clauses, features, imp, chain, comment) in sorted(VALID.items()):
        if tid not in present:
            if tid == "y_hdr_v3_c2m_basic":
                continue  # optional (MAKE_C2M=1)
            raise SystemExit("missing image for %s" % tid)
        tests.append({"id": tid, "verdict": "valid", "image": present[tid], "chain": chain,
                      "clauses": clauses, "flags": ["Basic"], "features": features,
                      "importance": imp, "comment": comment, "recipe": "tools/make_valid.sh",
                      "luks": "luks" in features})
    r_source = {}
    with open(os.path.join(VEC, "recipes", "edits.json")) as f:
        for r in json.load(f)["edits"]:
            t = {"id": r["id"], "verdict": r["verdict"], "image": present[r["id"]],
                 "chain": r.get("chain", []), "clauses": r["clauses"], "flags": r["flags"],
                 "features": r.get("features", ["v3"] if "v2" not in r["source"] else ["v2"]),
                 "importance": r.get("importance", "high"),
                 "comment": r["comment"] + " (source %s)" % os.path.basename(r["source"]),
                 "recipe": "recipes/edits.json#" + r["id"],
                 "luks": "luks" in r.get("features", []), "rexpect": r.get("expect")}
            r_source[r["id"]] = (r["source"], r.get("chain", []))
            tests.append(t)
    known = set(present)
    by_area = {}
    for t in tests:
        assert t["id"] in known
        luks = t.pop("luks")
        rexpect = t.pop("rexpect", None)
        full = os.path.join(VEC, t["image"])
        t["sha256"] = sha256_file(full)
        if t["features"] and "luks" in t["features"]:
            t["secrets"] = {"passphrase_hex": LUKS_PASS.encode().hex()}
        q = Qemu(t["image"], t["chain"], luks)
        try:
            if t["verdict"] == "valid":
                t["expect"] = valid_expect(q, t["id"])
            else:
                ok, err, info, g = qemu_evidence(q, (rexpect or {}).get("snapshot"))
                if t["verdict"] == "invalid":
                    t["expect"] = dict(rexpect)
                    if rexpect.get("stage") == "check":
                        check_expect(q, t["expect"], ok, info, g, r_source.get(t["id"]))
                else:
                    t["expect"] = {}
                    if ok and t["id"] != "i_bk_absolute_path":
                        t["expect"]["if_accepted"] = {"virtual_size": info["virtual-size"],
                                                      "guest_sha256": g}
                    if t["id"] == "i_bk_absolute_path":
                        t["expect"]["if_rejected"] = {"error_class": "reference",
                                                      "clause": "QX.BK.path_policy"}
                t["expect"]["qemu"] = "accepts" if ok else "rejects"
                if not ok:
                    t["expect"]["qemu_error"] = err
        finally:
            q.close()
        if not t["chain"]:
            del t["chain"]
        area = t["id"].split("_")[1]
        by_area.setdefault(area, []).append(t)
        print("%-48s %s" % (t["id"], t["expect"].get("qemu", "ok")), file=sys.stderr)
    order = {"valid": 0, "invalid": 1, "acceptable": 2}
    # Only the areas this script writes (the encrypted areas have their own
    # builder, build_encrypted_manifests.py).
    for area in by_area:
        old = os.path.join(VEC, "qcow2_%s_test.json" % area)
        if os.path.exists(old):
            os.unlink(old)
    for area, ts in sorted(by_area.items()):
        ts.sort(key=lambda t: (order[t["verdict"]], t["id"]))
        used = sorted({fl for t in ts for fl in t["flags"]})
        notes = {fl: dict({"cves": []}, **NOTES[fl]) for fl in used}
        doc = {"schema": "image_test_v1", "area": area, "numberOfTests": len(ts),
               "header": [AREA_HEADERS[area]],
               "source": {"name": "qcow2ref vectors (qemu-img/qemu-io)", "qemu_img": qver},
               "notes": notes, "tests": [dict(sorted(t.items())) for t in ts]}
        with open(os.path.join(VEC, "qcow2_%s_test.json" % area), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    print("build_manifests.py: %d tests in %d manifests" % (len(tests), len(by_area)))


if __name__ == "__main__":
    main()
