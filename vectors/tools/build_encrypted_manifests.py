#!/usr/bin/env python3
"""build_encrypted_manifests.py - write vectors/qcow2_enc_test.json and qcow2_luks_test.json.

Same format as build_manifests.py (schema image_test_v1), plus per test
  "secrets": {"passphrase_hex": ..., ["other_passphrases_hex": [...]], ["master_key_hex": ...]}
Expected values:
  * qemu-made images: qemu-img 7.2 info / map / convert -O raw, run with the passphrase
    (--object secret + --image-opts encrypt.key-secret), never the project's reader;
  * cryptsetup-embedded images (recipes/luks_embedded.json, tools/embed_luks.py): the plaintext
    written, re-encrypted independently with openssl; qemu-img's result is kept as evidence;
  * n_/i_ images: qemu-img's behaviour as evidence ("qemu", "qemu_error").
master_key_hex (debug aid) comes from `cryptsetup luksDump --dump-master-key` on the LUKS area
extracted from the image (falls back to luks_ref.unlock for AES suites).

Usage: build_encrypted_manifests.py    (after make_encrypted.sh, embed_luks.py,
                                        make_encrypted_edited.py)
"""
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile

if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import luks_edit  # noqa: E402  (next to this file)
import luks_ref  # noqa: E402
import qcow2_edit  # noqa: E402
from qcow2ref_py.files import sha256_file  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.dirname(HERE)

AREA_HEADERS = {
    "enc": "legacy AES encryption (crypt_method 1): AES-128-CBC keyed by the first 16 passphrase "
           "bytes, IV from the guest sector number; no key check.",
    "luks": "LUKS1 encryption in qcow2 (crypt_method 2): FDE pointer, LUKS1 header and key slots, "
            "PBKDF2/AF/digest unlock, every cipher/mode/IV generator/hash QEMU 7.2 accepts, "
            "host-sector IVs, cryptsetup-made headers.",
}

NOTES = {
    "Basic": {"bugType": "BASIC", "description": "A valid encrypted image (made by qemu-img/qemu-io 7.2, or a cryptsetup LUKS1 area embedded in one); the reader must unlock it with the given passphrase and return exactly the expected guest bytes."},
    "LuksHeader": {"bugType": "MISSING_CHECK", "description": "A LUKS1 header field holds a value that LUKS1 or QEMU 7.2 does not allow; the open must fail before any key is derived."},
    "LuksNames": {"bugType": "MISSING_CHECK", "description": "Cipher name, cipher mode or hash spec is malformed or unknown; the open must fail (unsupported) instead of guessing."},
    "KeySlot": {"bugType": "MISSING_CHECK", "description": "A key slot field (active, iterations, stripes) is out of range; the open must fail."},
    "KeySlotGeometry": {"bugType": "OOB_OFFSET", "description": "Key material overlaps the header, another slot or the payload; the open must fail."},
    "FdePointer": {"bugType": "OOB_OFFSET", "description": "The FDE header pointer (offset/length) is unaligned, outside the file or too short for the key material."},
    "FeatureCombination": {"bugType": "MISSING_CHECK", "description": "crypt_method and the FDE header pointer extension disagree."},
    "WrongKey": {"bugType": "MISSING_CHECK", "description": "No key slot verifies against the master-key digest: the reader must report a wrong passphrase and return no data (never garbage)."},
    "IterationLimit": {"bugType": "RESOURCE_EXHAUSTION", "description": "PBKDF2 iteration count far above any sane value; the reader must refuse it as a limit (or time-box it) instead of hanging."},
    "Erratum": {"bugType": "ERRATUM", "description": "The LUKS specification and QEMU 7.2 disagree; either behaviour is acceptable if it is exactly the documented one."},
    "NoKeyCheck": {"bugType": "ERRATUM", "description": "Legacy AES has no key check: a wrong passphrase cannot be detected; the reader must never claim the key is right."},
}

# id -> (clauses, features, importance, chain, comment)
VALID = {
    "y_enc_aes_basic": (["Q2.ENC.aes.cbc", "Q2.ENC.aes.key_128", "Q2.ENC.aes.iv_guest_sector", "Q2.ENC.payload", "QX.ENC.sector_unit", "Q2.ENC.metadata_plain", "Q2.ENC.aes.emulators"], ["v3", "aes"], "critical", [], "encrypt.format=aes, 64 KiB clusters, 2 MiB; writes at 0, 192 KiB, 300001 (unaligned), 1 MiB and the last sector"),
    "y_enc_aes_long_passphrase": (["Q2.ENC.aes.key_128", "QX.ENC.secret_bytes"], ["v3", "aes"], "critical", [], "encrypt.format=aes with a 24-byte passphrase: only the first 16 bytes key AES-128 (other_passphrases_hex: same first 16 bytes, different tail, gives the same content); same writes as y_enc_aes_basic"),
    "y_enc_aes_backing": (["Q2.ENC.zero_plaintext", "Q2.ENC.aes.iv_guest_sector", "Q2.ENC.payload"], ["v3", "aes", "backing"], "critical", ["images/enc/y_enc_aes_backing_base.qcow2"], "encrypt.format=aes overlay over a plain qcow2 base: partial-cluster writes (COW of base data, encrypted), a zero write over base data, unallocated ranges read from the base"),
    "y_enc_aes_backing_base": (["Q2.MAP.l1_index"], ["v3"], "low", [], "plain (unencrypted) backing file of y_enc_aes_backing: 192 KiB of 0x61 at 0, 128 KiB of 0x62 at 1 MiB"),
    "y_enc_aes_v2": (["Q2.ENC.aes.cbc", "Q2.ENC.aes.iv_guest_sector", "Q2.HDR.v2_length"], ["v2", "aes"], "high", [], "compat=0.10 with encrypt.format=aes; same writes as y_enc_aes_basic"),
    "y_luks_default": (["Q2.ENC.luks.algorithms", "Q2.ENC.luks.iv_host_sector", "Q2.FDE.length_full_area", "L1.PHDR.layout", "Q2.ENC.metadata_plain", "L1.PBKDF2.slot_key", "L1.AF.merge", "L1.MKD.verify", "L1.OPS.iv_plain64"], ["v3", "luks"], "critical", [], "encrypt.format=luks with QEMU defaults (aes-256 xts plain64, sha256), 64 KiB clusters, 2 MiB; standard writes"),
    "y_luks_multislot": (["L1.MKD.try_active_slots", "L1.OPS.iv_essiv", "QX.LUKS.essiv_cipher", "L1.PBKDF2.algorithm"], ["v3", "luks"], "critical", [], "aes-128 cbc essiv:sha256, hash sha1; slots 0, 1 and 3 active (qemu-img amend encrypt.keyslot=N,encrypt.state=active): every passphrase must unlock"),
    "y_luks_xl2": (["Q2.ENC.zero_plaintext", "Q2.ENC.luks.iv_host_sector", "Q2.XL2.subcluster_states"], ["v3", "luks", "xl2"], "critical", [], "aes-128 cbc plain64, hash sha512, extended_l2=on; subcluster data and zero writes"),
    "y_luks_backing": (["Q2.ENC.zero_plaintext", "Q2.ENC.cow_reencrypt", "L1.OPS.iv_plain"], ["v3", "luks", "backing"], "critical", ["images/luks/y_luks_backing_base.qcow2"], "serpent-128 cbc plain, hash sha224; overlay over a plain qcow2 base: partial-cluster writes (COW), a zero write over base data"),
    "y_luks_backing_base": (["Q2.MAP.l1_index"], ["v3"], "low", [], "plain (unencrypted) backing file of y_luks_backing: 192 KiB of 0x61 at 0, 128 KiB of 0x62 at 1 MiB"),
    "y_luks_xdf": (["Q2.ENC.with_xdf", "Q2.ENC.luks.iv_host_sector"], ["v3", "luks", "xdf"], "critical", ["images/luks/y_luks_xdf_data.raw"], "twofish-128 ctr plain64, hash sha384, data_file=y_luks_xdf_data.raw: LUKS area in the qcow2 file, IV sector = data-file offset / 512"),
    "y_luks_compressed": (["Q2.ENC.compressed_plaintext", "Q2.CMP.deflate", "Q2.ENC.payload"], ["v3", "luks", "compressed"], "critical", [], "cast5-128 cbc plain64, hash md5; clusters 0 and 1 MiB written with qemu-io write -c (stored as plain deflate), cluster 64 KiB and the last sector encrypted"),
    "y_luks_aes128_ecb_plain": (["Q2.ENC.luks.algorithms", "L1.PHDR.cipher_support", "L1.AF.hash"], ["v3", "luks"], "high", [], "aes-128 ecb plain, hash ripemd160; standard writes"),
    "y_luks_aes128_xts_essiv_md5": (["L1.OPS.iv_essiv", "QX.LUKS.essiv_cipher", "L1.PHDR.key_bytes"], ["v3", "luks"], "high", [], "aes-128 xts essiv:md5 (ESSIV cipher AES-128), hash sha256; standard writes"),
    "y_luks_aes192_xts": (["L1.PHDR.key_bytes", "L1.PHDR.cipher_support"], ["v3", "luks"], "high", [], "aes-192 xts plain64 (key-bytes 48), hash sha512; standard writes"),
    "y_luks_serpent192_xts": (["L1.PHDR.cipher_support", "L1.PHDR.key_bytes"], ["v3", "luks"], "high", [], "serpent-192 xts plain64, hash sha1; standard writes"),
    "y_luks_twofish192_xts": (["L1.PHDR.cipher_support", "L1.OPS.iv_plain"], ["v3", "luks"], "high", [], "twofish-192 xts plain, hash ripemd160; standard writes"),
    "y_luks_serpent256_cbc_essiv": (["QX.LUKS.essiv_cipher", "L1.OPS.cbc_per_sector", "L1.PHDR.cipher_support"], ["v3", "luks"], "high", [], "serpent-256 cbc essiv:sha256, hash sha224; standard writes"),
    "y_luks_twofish256_ecb": (["L1.PHDR.cipher_support", "L1.PBKDF2.algorithm"], ["v3", "luks"], "high", [], "twofish-256 ecb plain64, hash md5; standard writes"),
    "y_luks_cast5_ctr_essiv": (["L1.PHDR.cipher_support", "L1.OPS.iv_essiv", "QX.LUKS.essiv_cipher"], ["v3", "luks"], "high", [], "cast5-128 ctr essiv:md5 (8-byte IVs), hash sha384; standard writes"),
    "y_luks_plain64_ivhash": (["QX.LUKS.plain_ivhash_ignored", "L1.OPS.iv_plain64"], ["v3", "luks"], "high", [], "aes-128 cbc plain64 with ivgen-hash-alg=sha256 given: QEMU writes 'cbc-plain64:sha256' and ignores the hash"),
    "y_luks_small_c4k": (["Q2.FDE.key_material_relative", "L1.KS.material_size", "L1.OPS.key_material_sectors", "Q2.FDE.allocated_clusters", "Q2.FDE.luks_header_first", "Q2.FDE.length", "L1.OPS.key_material_aligned"], ["v3", "luks"], "high", [], "aes-128 cbc plain64, hash sha256, 4 KiB clusters, 1 MiB (the source of the n_luks_*/i_luks_* edits)"),
}
EMBED_CLAUSES = {
    "y_luks_cs_aes_xts_plain64": (["Q2.FDE.payload_offset_unused", "Q2.FDE.length_covers_key_material", "Q2.FDE.payload_offset_valid", "L1.OPS.payload_master_key", "Q2.ENC.luks.iv_host_sector"], "critical"),
    "y_luks_cs_aes_cbc_essiv": (["QX.LUKS.essiv_cipher", "Q2.FDE.payload_offset_unused", "L1.OPS.iv_essiv"], "critical"),
    "y_luks_cs_aes192_cbc_essiv": (["L1.OPS.key_material_sector_padding", "L1.KS.material_size", "QX.LUKS.essiv_cipher"], "high"),
    "y_luks_cs_multislot": (["L1.MKD.try_active_slots", "L1.KS.stripes_4000", "L1.PBKDF2.algorithm", "L1.PBKDF2.default_hash"], "high"),
}
EXTRA_PASS = {  # other passphrases that must work too
    "y_enc_aes_long_passphrase": ["only-16-bytes-coXYZ"],
}


def passphrases():
    """PASS table of make_encrypted.sh: name -> [passphrase, extra slot passphrases...]."""
    with open(os.path.join(HERE, "make_encrypted.sh")) as f:
        txt = f.read()
    out = {}
    for name, slot, pw in re.findall(r'^\s*\[([a-z0-9_]+)(#slot\d+)?\]="([^"]*)"', txt, re.M):
        out.setdefault(name, [None])
        if slot:
            out[name].append(pw)
        else:
            out[name][0] = pw
    return out


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(cmd, cwd, timeout=30):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout, preexec_fn=_limits)
        err = p.stderr.decode(errors="replace")
        if p.returncode < 0:
            err += "\nkilled by signal %d" % -p.returncode
        return p.returncode, p.stdout, err
    except subprocess.TimeoutExpired:
        return -1, b"", "timeout after %ds (qemu-img did not finish)" % timeout


class Qemu:
    def __init__(self, image, chain, passphrase):
        self.dir = tempfile.mkdtemp(prefix="encvec_")
        self.name = os.path.basename(image)
        for f in [image] + chain:
            shutil.copyfile(os.path.join(VEC, f), os.path.join(self.dir, os.path.basename(f)))
        self.pw = passphrase

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def src(self):
        if self.pw is None:
            return ["-f", "qcow2", self.name]
        return ["--object", "secret,id=sec0,data=" + self.pw, "--image-opts",
                "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0" % self.name]

    def clean(self, err):
        lines = [l for l in err.strip().splitlines() if l.strip()]
        main = [l for l in lines if l.startswith("qemu-img:") or l.startswith("timeout")]
        line = main[0] if main else (lines[0] if lines else "")
        if "killed by signal" in err and "killed by signal" not in line:
            line += " (" + [l for l in lines if l.startswith("killed")][0] + ")"
        return line.replace(self.dir + "/", "").replace(self.dir, ".")

    def info(self):
        rc, out, err = run(["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", self.name], self.dir)
        return (json.loads(out) if rc == 0 else None), self.clean(err)

    def convert(self):
        out = os.path.join(self.dir, "__guest.raw")
        rc, _, err = run(["qemu-img", "convert", "-U"] + self.src() + ["-O", "raw", out],
                         self.dir, timeout=20)
        if rc != 0:
            if os.path.exists(out):
                os.unlink(out)
            return None, self.clean(err)
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        return data, ""

    def map(self):
        rc, out, err = run(["qemu-img", "map", "-U", "--output=json"] + self.src(), self.dir)
        if rc != 0:
            return None, self.clean(err)
        keep = ("start", "length", "depth", "present", "zero", "data", "offset")
        return [{k: e[k] for k in keep if k in e} for e in json.loads(out)], ""


def info_summary(info):
    fs = (info.get("format-specific") or {}).get("data", {})
    d = {"version": 3 if fs.get("compat") == "1.1" else 2, "cluster_size": info.get("cluster-size")}
    for k, kk in (("refcount-bits", "refcount_bits"), ("compression-type", "compression_type"),
                  ("extended-l2", "extended_l2")):
        if k in fs:
            d[kk] = fs[k]
    if info.get("backing-filename"):
        d["backing_filename"] = info["backing-filename"]
    if fs.get("data-file"):
        d["data_file"] = fs["data-file"]
    enc = fs.get("encrypt") or {}
    if enc.get("format"):
        d["encrypt_format"] = enc["format"]
    return d


def luks_params(path):
    """One-line description of the LUKS header, or None."""
    try:
        off, ln, p = luks_edit.read_phdr(path)
    except SystemExit:
        return None, None
    act = [(k, s["iterations"]) for k, s in enumerate(p["slots"]) if s["active"] == luks_edit.ACTIVE]
    txt = ("LUKS: cipher %s, mode %s, hash %s, key-bytes %d, payload-offset %d, mk-digest-iter %d, "
           "active slots %s, key material at sectors %s, FDE offset %#x length %d"
           % (p["cipher_name"], p["cipher_mode"], p["hash_spec"], p["key_bytes"], p["payload_offset"],
              p["mk_digest_iter"], ", ".join("%d (%d iterations)" % a for a in act),
              "/".join(str(s["key_material_offset"]) for s in p["slots"]), off, ln))
    return txt, p


def master_key(path, pw):
    """cryptsetup luksDump --dump-master-key on the extracted LUKS area; luks_ref as fallback."""
    with qcow2_edit.Image(path) as img:
        off, ln = luks_edit.fde_pointer(img)
        area = img.read(off, ln)
    d = tempfile.mkdtemp(prefix="mk_")
    try:
        with open(os.path.join(d, "hdr"), "wb") as f:
            f.write(area)
        with open(os.path.join(d, "pw"), "w") as f:
            f.write(pw)
        p = subprocess.run(["cryptsetup", "luksDump", "--dump-master-key", "--batch-mode",
                            "--key-file", os.path.join(d, "pw"), os.path.join(d, "hdr")],
                           capture_output=True, text=True)
        m = re.search(r"MK dump:\s*((?:[0-9a-f]{2}\s*)+)", p.stdout)
        if p.returncode == 0 and m:
            return "".join(m.group(1).split()), "cryptsetup luksDump --dump-master-key"
    finally:
        shutil.rmtree(d, ignore_errors=True)
    try:
        r = luks_ref.unlock(path, pw.encode())
        if r:
            return r["master_key"].hex(), "tools/luks_ref.py unlock"
    except (ValueError, RuntimeError):
        pass
    return None, None


def aes_wrong_key_guest(path, pw, vsize):
    """Independent check of i_enc_aes_wrong_passphrase: decrypt every allocated cluster of the
    AES image with the openssl CLI (AES-128-CBC, key = first 16 bytes, IV = guest sector)."""
    guest = bytearray(vsize)
    with qcow2_edit.Image(path) as img:
        cs, n2 = img.cluster_size, img.l2_entries()
        for i in range(img.h["l1_size"]):
            l2 = img.l1(i) & 0x00FFFFFFFFFFFE00
            if not l2:
                continue
            for j in range(n2):
                e = img.u(l2 + 8 * j, ">Q")
                host = e & 0x00FFFFFFFFFFFE00
                g = (i * n2 + j) * cs
                if host and g < vsize and not e & 1:
                    guest[g:g + cs] = luks_ref.legacy_aes_crypt(pw.encode(), img.read(host, cs), g, True)
    return hashlib.sha256(bytes(guest[:vsize])).hexdigest()


def valid_expect(q, tid):
    info, err = q.info()
    if info is None:
        raise SystemExit("qemu-img info failed on valid image %s: %s" % (tid, err))
    g, err = q.convert()
    if g is None:
        raise SystemExit("qemu-img convert failed on valid image %s: %s" % (tid, err))
    exp = {"virtual_size": info["virtual-size"], "guest_sha256": hashlib.sha256(g).hexdigest(),
           "info": info_summary(info)}
    m, err = q.map()
    if m is None:
        raise SystemExit("qemu-img map failed on %s: %s" % (tid, err))
    if len(m) < 100:
        exp["map"] = m
    return exp


def main():
    qver = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    csver = subprocess.run(["cryptsetup", "--version"], capture_output=True, text=True).stdout.strip()
    osver = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    PW = passphrases()
    tests = []
    for tid, (clauses, features, imp, chain, comment) in VALID.items():
        area = tid.split("_")[1]
        pw = PW.get(tid, [None])
        t = {"id": tid, "verdict": "valid", "image": "images/%s/%s.qcow2" % (area, tid), "chain": chain,
             "clauses": clauses, "flags": ["Basic"], "features": features, "importance": imp,
             "comment": comment, "recipe": "tools/make_encrypted.sh", "_pw": pw[0],
             "_other": pw[1:] + EXTRA_PASS.get(tid, [])}
        tests.append(t)
    with open(os.path.join(VEC, "recipes", "luks_embedded.json")) as f:
        embedded = json.load(f)["embedded"]
    for r in embedded:
        cl, imp = EMBED_CLAUSES[r["id"]]
        t = {"id": r["id"], "verdict": "valid", "image": r["image"], "chain": [], "clauses": cl,
             "flags": ["Basic"], "features": ["v3", "luks"], "importance": imp,
             "comment": r["comment"] + "; `cryptsetup %s` area embedded in a copy of %s (FDE length "
                        "%d), data re-encrypted with the openssl CLI under the cryptsetup master key; "
                        "expected content = the plaintext written, computed independently (not by qemu)"
                        % (r["cryptsetup"], os.path.basename(r["source"]), r["fde_length"]),
             "recipe": "tools/embed_luks.py#" + r["id"],
             "_pw": bytes.fromhex(r["passphrase_hex"]).decode(),
             "_other": [bytes.fromhex(h).decode() for h in r["other_passphrases_hex"]], "_embed": r}
        tests.append(t)
    with open(os.path.join(VEC, "recipes", "encrypted_edits.json")) as f:
        edits = json.load(f)["edits"]
    for r in edits:
        src_id = os.path.splitext(os.path.basename(r["source"]))[0]
        pw = r.get("passphrase") or PW[src_id][0]
        t = {"id": r["id"], "verdict": r["verdict"], "image": "images/%s/%s.qcow2" % (r["id"].split("_")[1], r["id"]),
             "chain": r.get("chain", []), "clauses": r["clauses"], "flags": r["flags"], "features": r["features"],
             "importance": r.get("importance", "high"),
             "comment": r["comment"] + " (source %s)" % os.path.basename(r["source"]),
             "recipe": "recipes/encrypted_edits.json#" + r["id"], "_pw": pw, "_other": [],
             "_rexpect": r.get("expect"), "_from": r.get("if_accepted_from"), "_src": r["source"]}
        tests.append(t)

    by_id = {t["id"]: t for t in tests}
    by_area = {}
    for t in tests:
        full = os.path.join(VEC, t["image"])
        if not os.path.isfile(full):
            raise SystemExit("missing image %s" % t["image"])
        t["sha256"] = sha256_file(full)
        pw, other = t.pop("_pw"), t.pop("_other")
        embed, rexpect, frm, src = t.pop("_embed", None), t.pop("_rexpect", None), t.pop("_from", None), t.pop("_src", None)
        encrypted = "luks" in t["features"] or "aes" in t["features"]
        if encrypted:
            t["secrets"] = {"passphrase_hex": pw.encode().hex()}
            if other:
                t["secrets"]["other_passphrases_hex"] = [o.encode().hex() for o in other]
        if "luks" in t["features"]:
            desc, _ = luks_params(full)
            if desc:
                t["comment"] += "; " + desc
            if t["verdict"] == "valid":
                mk, how = (embed["master_key_hex"], "cryptsetup luksDump --dump-master-key") if embed \
                    else master_key(full, pw)
                if mk:
                    t["secrets"]["master_key_hex"] = mk
                    t["secrets"]["master_key_source"] = how
        q = Qemu(t["image"], t["chain"], pw if encrypted else None)
        try:
            if t["verdict"] == "valid" and not embed:
                t["expect"] = valid_expect(q, t["id"])
                for o in other:  # every other passphrase must give the same guest
                    q2 = Qemu(t["image"], t["chain"], o)
                    try:
                        g2, err = q2.convert()
                    finally:
                        q2.close()
                    if g2 is None or hashlib.sha256(g2).hexdigest() != t["expect"]["guest_sha256"]:
                        raise SystemExit("%s: passphrase %r does not give the same guest: %s" % (t["id"], o, err))
            elif embed:
                info, err = q.info()
                t["expect"] = {"virtual_size": embed["virtual_size"], "guest_sha256": embed["guest_sha256"]}
                if info:
                    t["expect"]["info"] = info_summary(info)
                g, err = q.convert()
                if g is None:
                    t["expect"]["qemu"] = "rejects"
                    t["expect"]["qemu_error"] = "qemu-img convert: " + err
                    t["comment"] += "; QEMU 7.2 cannot open it (assertion on key material not a multiple of 512 bytes)"
                else:
                    if hashlib.sha256(g).hexdigest() != embed["guest_sha256"]:
                        raise SystemExit("%s: qemu disagrees with the independent content" % t["id"])
                    t["comment"] += "; qemu-img convert agrees"
                    m, err = q.map()
                    if m is not None and len(m) < 100:
                        t["expect"]["map"] = m
            else:
                info, err = q.info()
                ok = info is not None
                qerr = "" if ok else "qemu-img info: " + err
                g = None
                if not ok and "killed by signal" in err:
                    # qemu-img info crashed (NO_IO path); record what an I/O open says too
                    _, err2 = q.convert()
                    qerr += "; qemu-img convert: " + err2
                if ok:
                    g, err = q.convert()
                    if g is None:
                        ok, qerr = False, "qemu-img convert: " + err
                if t["verdict"] == "invalid":
                    t["expect"] = dict(rexpect)
                else:
                    t["expect"] = {}
                    if frm:
                        fq = Qemu(by_id[frm]["image"], by_id[frm].get("chain", []), PW[frm][0])
                        try:
                            fg, ferr = fq.convert()
                        finally:
                            fq.close()
                        t["expect"]["if_accepted"] = {"virtual_size": len(fg),
                                                      "guest_sha256": hashlib.sha256(fg).hexdigest()}
                    elif ok:
                        gs = hashlib.sha256(g).hexdigest()
                        t["expect"]["if_accepted"] = {"virtual_size": info["virtual-size"], "guest_sha256": gs}
                        if "aes" in t["features"]:
                            ind = aes_wrong_key_guest(full, pw, info["virtual-size"])
                            if ind != gs:
                                raise SystemExit("%s: openssl decryption disagrees with qemu" % t["id"])
                            t["comment"] += "; if_accepted = qemu-img convert with the wrong passphrase, " \
                                            "identical to an openssl AES-128-CBC decryption of every cluster"
                    t["expect"]["if_rejected"] = {"error_class": "crypto_key" if "aes" in t["features"] else "crypto_header",
                                                  "clause": t["clauses"][0]}
                t["expect"]["qemu"] = "accepts" if ok else "rejects"
                if not ok:
                    t["expect"]["qemu_error"] = qerr
                    if "Invalid password" in qerr and t["verdict"] == "invalid":
                        pass
        finally:
            q.close()
        if not t["chain"]:
            del t["chain"]
        by_area.setdefault(t["id"].split("_")[1], []).append(t)
        print("%-40s %s" % (t["id"], t["expect"].get("qemu", "ok")), file=sys.stderr)

    order = {"valid": 0, "invalid": 1, "acceptable": 2}
    for area, ts in sorted(by_area.items()):
        ts.sort(key=lambda t: (order[t["verdict"]], t["id"]))
        used = sorted({fl for t in ts for fl in t["flags"]})
        notes = {fl: dict({"cves": []}, **NOTES[fl]) for fl in used}
        doc = {"schema": "image_test_v1", "area": area, "numberOfTests": len(ts),
               "header": [AREA_HEADERS[area]],
               "source": {"name": "qcow2ref encrypted vectors (qemu-img/qemu-io, cryptsetup, openssl CLI)",
                          "qemu_img": qver, "cryptsetup": csver, "openssl": osver},
               "notes": notes, "tests": [dict(sorted(t.items())) for t in ts]}
        with open(os.path.join(VEC, "qcow2_%s_test.json" % area), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    print("build_encrypted_manifests.py: %d tests in %d manifests" % (len(tests), len(by_area)))


if __name__ == "__main__":
    main()
