#!/usr/bin/env python3
"""embed_luks.py - qcow2 images whose LUKS1 area was made by cryptsetup (not by QEMU).

For every entry of EMBEDS:
  1. cryptsetup 2.6.1 `luksFormat --type luks1` on a plain 4 MiB file (payload offset 4096
     sectors = 2 MiB), PBKDF2 forced to 1000 iterations; optional extra slots with
     `luksAddKey`. The first 2 MiB of that file is the LUKS area.
  2. The master key comes from `cryptsetup luksDump --dump-master-key` with the passphrase,
     cross-checked against luks_ref.unlock (our independent test-data model).
  3. Source: images/luks/y_luks_default.qcow2 (QEMU aes-256-xts LUKS area: FDE length
     2068480, 32 x 64 KiB clusters = exactly 2 MiB allocated). The cryptsetup area (payload
     offset 2048 or 4096 sectors, as cryptsetup aligns it: 1 or 2 MiB) replaces the QEMU one in
     place, the rest of the 2 MiB is zeroed, and the FDE length stays the whole 2 MiB area
     (so every allocated cluster of it is part of the LUKS area: no leak); no refcount
     change.
  4. Every allocated data cluster is re-encrypted under the cryptsetup master key with the
     openssl CLI (luks_ref.crypt_sectors), IV sector = host byte offset / 512. The plaintext is
     the source's guest content (qemu-img convert with the source passphrase).
  5. qemu-img convert (with the new passphrase) is run to check that QEMU reads back the same
     plaintext; its result (or error, e.g. the aes-192 abort) is recorded.
Results (master key, expected guest sha256, qemu outcome) go to recipes/luks_embedded.json,
read by build_encrypted_manifests.py.  Usage: embed_luks.py [ID...]
"""
import hashlib
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile

import luks_edit
import luks_ref
import qcow2_edit

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.dirname(HERE)

SOURCE = "images/luks/y_luks_default.qcow2"
SOURCE_PASS = b"luks-default"   # must match make_encrypted.sh
AREA = 2 << 20

EMBEDS = [
    {"id": "y_luks_cs_aes_xts_plain64", "cipher": "aes-xts-plain64", "key_size": 256,
     "hash": "sha256", "passphrase": "cs-xts-pw", "extra": [],
     "comment": "cryptsetup aes-xts-plain64, 256-bit key (2 x AES-128), sha256"},
    {"id": "y_luks_cs_aes_cbc_essiv", "cipher": "aes-cbc-essiv:sha256", "key_size": 128,
     "hash": "sha256", "passphrase": "cs-essiv-pw", "extra": [],
     "comment": "cryptsetup aes-cbc-essiv:sha256, 128-bit key (ESSIV cipher AES-256), sha256"},
    {"id": "y_luks_cs_aes192_cbc_essiv", "cipher": "aes-cbc-essiv:sha256", "key_size": 192,
     "hash": "sha256", "passphrase": "cs-192-pw", "extra": [],
     "comment": "cryptsetup aes-cbc-essiv:sha256, 192-bit key: key material 96000 bytes is not "
                "a multiple of 512 (last sector zero-padded); QEMU 7.2 aborts on it"},
    {"id": "y_luks_cs_multislot", "cipher": "aes-cbc-plain64", "key_size": 256,
     "hash": "sha1", "passphrase": "cs-slot0", "extra": [(2, "cs-slot2"), (6, "cs-slot6")],
     "comment": "cryptsetup aes-cbc-plain64, 256-bit key, sha1; slots 0, 2 and 6 active "
                "(luksAddKey --key-slot), the others disabled as cryptsetup leaves them"},
]


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(cmd), p.stderr.decode(errors="replace")))
    return p.stdout


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def qemu_convert(d, name, passphrase):
    """sha256 of the guest from qemu-img convert, or (None, first error line)."""
    out = os.path.join(d, "__g.raw")
    cmd = ["qemu-img", "convert", "-U", "--object", "secret,id=sec0,data=" + passphrase,
           "--image-opts", "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0" % name,
           "-O", "raw", out]
    try:
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=30,
                           preexec_fn=_limits)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    if p.returncode != 0:
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        err = lines[0] if lines else ""
        if p.returncode < 0:
            err = (err + " (killed by signal %d)" % -p.returncode).strip()
        return None, err.replace(d + "/", "")
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data, ""


def dump_master_key(hdr, pwfile):
    out = sh(["cryptsetup", "luksDump", "--dump-master-key", "--batch-mode", "--key-file",
              pwfile, hdr]).decode()
    m = re.search(r"MK dump:\s*((?:[0-9a-f]{2}\s*)+)", out)
    return bytes.fromhex("".join(m.group(1).split()))


def data_clusters(path):
    """[(guest_offset, host_offset)] of the allocated standard clusters (no xl2/compressed)."""
    out = []
    with qcow2_edit.Image(path) as img:
        cs = img.cluster_size
        n2 = img.l2_entries()
        for i in range(img.h["l1_size"]):
            l2 = img.l1(i) & 0x00FFFFFFFFFFFE00
            if not l2:
                continue
            for j in range(n2):
                e = img.u(l2 + 8 * j, ">Q")
                host = e & 0x00FFFFFFFFFFFE00
                if host and not e & (1 << 62):
                    out.append(((i * n2 + j) * cs, host))
        return out, cs


def make(e, plain, tmp):
    pw = os.path.join(tmp, "pw")
    with open(pw, "w") as f:
        f.write(e["passphrase"])
    dev = os.path.join(tmp, "dev")
    with open(dev, "wb") as f:
        f.truncate(4 << 20)
    sh(["cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--cipher", e["cipher"],
        "--key-size", str(e["key_size"]), "--hash", e["hash"], "--pbkdf-force-iterations",
        "1000", "--key-file", pw, dev])
    for slot, p2 in e["extra"]:
        pw2 = os.path.join(tmp, "pw%d" % slot)
        with open(pw2, "w") as f:
            f.write(p2)
        sh(["cryptsetup", "luksAddKey", "--batch-mode", "--key-file", pw, "--key-slot", str(slot),
            "--pbkdf-force-iterations", "1000", dev, pw2])
    mk = dump_master_key(dev, pw)
    with open(dev, "rb") as f:
        ph = luks_edit.parse_phdr(f.read(592))
        alen = ph["payload_offset"] * 512   # 2048 or 4096 sectors, as cryptsetup aligns it
        f.seek(0)
        area = f.read(alen)
    assert alen <= AREA, alen

    dst_rel = "images/luks/%s.qcow2" % e["id"]
    dst = os.path.join(VEC, dst_rel)
    shutil.copyfile(os.path.join(VEC, SOURCE), dst)
    with qcow2_edit.Image(dst) as img:
        off, ln = luks_edit.fde_pointer(img)
        assert off % img.cluster_size == 0 and (ln + img.cluster_size - 1) // img.cluster_size \
            * img.cluster_size >= AREA, (off, ln)
        # the whole 2 MiB allocated for the QEMU area: cryptsetup area, then zeros
        img.write(off, area + bytes(AREA - alen))
        img.ext_replace(luks_edit.FDE_EXT, struct.pack(">QQ", off, AREA))
    mode = e["cipher"].split("-", 1)[1]
    clusters, cs = data_clusters(dst)
    with qcow2_edit.Image(dst) as img:
        for g, h in clusters:
            ct = luks_ref.crypt_sectors("aes", mode, mk, plain[g:g + cs], h // 512)
            img.write(h, ct)
    # independent cross-check of the master key with our python model
    r = luks_ref.unlock(dst, e["passphrase"].encode())
    assert r is not None and r["master_key"] == mk, "luks_ref disagrees with cryptsetup"
    for slot, p2 in e["extra"]:
        r2 = luks_ref.unlock(dst, p2.encode())
        assert r2 is not None and r2["slot"] == slot and r2["master_key"] == mk
    # QEMU's view
    qd = tempfile.mkdtemp(prefix="emb_")
    try:
        shutil.copyfile(dst, os.path.join(qd, os.path.basename(dst)))
        got, err = qemu_convert(qd, os.path.basename(dst), e["passphrase"])
    finally:
        shutil.rmtree(qd, ignore_errors=True)
    res = {"id": e["id"], "image": dst_rel, "source": SOURCE, "comment": e["comment"],
           "cryptsetup": "luksFormat --type luks1 --cipher %s --key-size %d --hash %s "
                         "--pbkdf-force-iterations 1000" % (e["cipher"], e["key_size"], e["hash"]),
           "passphrase_hex": e["passphrase"].encode().hex(),
           "other_passphrases_hex": [p.encode().hex() for _, p in e["extra"]],
           "extra_slots": [s for s, _ in e["extra"]],
           "master_key_hex": mk.hex(),
           "phdr": {k: ph[k] for k in ("cipher_name", "cipher_mode", "hash_spec",
                                        "payload_offset", "key_bytes", "mk_digest_iter")},
           "fde_offset": off, "fde_length": AREA,
           "virtual_size": len(plain),
           "guest_sha256": hashlib.sha256(plain).hexdigest(),
           "data_clusters": [[g, h] for g, h in clusters]}
    if got is None:
        res["qemu"] = "rejects"
        res["qemu_error"] = "qemu-img convert: " + err
    else:
        res["qemu"] = "accepts"
        res["qemu_guest_sha256"] = hashlib.sha256(got).hexdigest()
        if got != plain:
            raise SystemExit("%s: qemu reads different content" % e["id"])
    return res


def main(argv):
    want = set(argv[1:])
    tmp = tempfile.mkdtemp(prefix="embed_")
    try:
        d = os.path.join(tmp, "src")
        os.makedirs(d)
        shutil.copyfile(os.path.join(VEC, SOURCE), os.path.join(d, "src.qcow2"))
        plain, err = qemu_convert(d, "src.qcow2", SOURCE_PASS.decode())
        if plain is None:
            raise SystemExit("cannot read source: " + err)
        rpath = os.path.join(VEC, "recipes", "luks_embedded.json")
        old = {}
        if os.path.exists(rpath):
            with open(rpath) as f:
                old = {r["id"]: r for r in json.load(f)["embedded"]}
        for e in EMBEDS:
            if want and e["id"] not in want:
                continue
            w = os.path.join(tmp, e["id"])
            os.makedirs(w)
            old[e["id"]] = make(e, plain, w)
            print("%-34s qemu %s" % (e["id"], old[e["id"]]["qemu"]), file=sys.stderr)
        doc = {"about": "Generated by tools/embed_luks.py: cryptsetup-made LUKS1 areas embedded "
                        "in qcow2; expected content = the plaintext written (source guest), "
                        "re-encrypted with openssl under the cryptsetup master key.",
               "embedded": [old[e["id"]] for e in EMBEDS if e["id"] in old]}
        with open(rpath, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
