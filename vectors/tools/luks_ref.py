#!/usr/bin/env python3
"""luks_ref.py - TEST-DATA GENERATOR: an independent, minimal LUKS1 / qcow2-encryption model
used only to compute expected values for the vector corpus (KAT files, re-encrypted images).

It is NOT the project's reader and shares no code with it. Building blocks:
  * PBKDF2: python hashlib.pbkdf2_hmac (OpenSSL-backed in CPython) - or `openssl kdf`.
  * AF diffuse/merge/split (LUKS1 "H1" diffusion): written here from the LUKS1 on-disk
    format description (pure python + hashlib).
  * Block ciphers: the openssl 3 command line (`openssl enc`), one 512-byte sector per call
    for CBC; XTS is assembled here from `openssl enc -aes-N-ecb` (openssl 3.0 `enc` has no
    XTS) with the IEEE 1619 tweak doubling written out in python.
  * IV generators plain / plain64 / essiv: written here; essiv uses `openssl enc -ecb`.
Only AES is supported here (openssl has no serpent/twofish; cast5 needs the legacy provider).

Usage as a script: luks_ref.py unlock IMAGE PASSPHRASE   -> JSON with the intermediate values
"""
import hashlib
import json
import struct
import subprocess
import sys


SECTOR = 512


# ---- hashes ---------------------------------------------------------------------------------
def hash_new(name):
    return hashlib.new(name)


def digest_size(name):
    return hash_new(name).digest_size


def pbkdf2(hash_name, password, salt, iterations, dklen):
    return hashlib.pbkdf2_hmac(hash_name, password, salt, iterations, dklen)


def pbkdf2_openssl(hash_name, password, salt, iterations, dklen):
    """The same with `openssl kdf` (cross-check; ripemd160 may need the legacy provider)."""
    cmd = ["openssl", "kdf", "-keylen", str(dklen), "-kdfopt", "digest:" + hash_name.upper(),
           "-kdfopt", "hexpass:" + password.hex(), "-kdfopt", "hexsalt:" + salt.hex(),
           "-kdfopt", "iter:%d" % iterations, "PBKDF2"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        p = subprocess.run(cmd[:2] + ["-provider", "legacy", "-provider", "default"] + cmd[2:],
                           capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("openssl kdf failed: " + p.stderr.strip())
    return bytes.fromhex(p.stdout.strip().replace(":", ""))


# ---- AF (anti-forensic) splitter, LUKS1 H1 diffusion ----------------------------------------
def diffuse(hash_name, block):
    """H1: split into digest-sized chunks; chunk i -> HASH(BE32(i) || chunk_i) cut to its length."""
    ds = digest_size(hash_name)
    out = b""
    for i in range(0, len(block), ds):
        chunk = block[i:i + ds]
        h = hash_new(hash_name)
        h.update(struct.pack(">I", i // ds))
        h.update(chunk)
        out += h.digest()[:len(chunk)]
    return out


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def af_merge(hash_name, material, key_len, stripes):
    d = bytes(key_len)
    for k in range(stripes - 1):
        d = diffuse(hash_name, _xor(d, material[k * key_len:(k + 1) * key_len]))
    return _xor(d, material[(stripes - 1) * key_len:stripes * key_len])


def af_split(hash_name, key, stripes, random_stripes):
    """random_stripes: (stripes-1)*len(key) bytes used as s_1..s_{n-1}."""
    n = len(key)
    d = bytes(n)
    for k in range(stripes - 1):
        d = diffuse(hash_name, _xor(d, random_stripes[k * n:(k + 1) * n]))
    return random_stripes[:(stripes - 1) * n] + _xor(d, key)


def counter_stream(seed, length):
    """Documented deterministic 'random' generator for KATs: SHA-256(seed || BE32(counter))
    for counter = 0, 1, 2, ... concatenated and cut to length."""
    out = bytearray()
    c = 0
    while len(out) < length:
        out += hashlib.sha256(seed + struct.pack(">I", c)).digest()
        c += 1
    return bytes(out[:length])


# ---- IV generators ----------------------------------------------------------------------------
def iv_plain(sector, ivlen=16):
    return struct.pack("<I", sector & 0xFFFFFFFF).ljust(ivlen, b"\0")[:ivlen]


def iv_plain64(sector, ivlen=16):
    return struct.pack("<Q", sector & 0xFFFFFFFFFFFFFFFF).ljust(ivlen, b"\0")[:ivlen]


def aes_ecb_encrypt(key, block):
    return openssl_enc("aes-%d-ecb" % (8 * len(key)), key, None, block)


def iv_essiv(sector, key, ivhash, ivlen=16):
    """ESSIV for AES data: salt = ivhash(key); AES-ECB keyed by the salt (key size = digest
    size: 16 -> AES-128, 32 -> AES-256) over LE64(sector) zero-padded to one block."""
    salt = hashlib.new(ivhash, key).digest()
    if len(salt) not in (16, 24, 32):
        raise ValueError("no AES key of %d bytes for ESSIV" % len(salt))
    return aes_ecb_encrypt(salt, iv_plain64(sector, 16))[:ivlen]


def make_iv(ivgen, sector, key, ivhash=None):
    if ivgen == "plain":
        return iv_plain(sector)
    if ivgen == "plain64":
        return iv_plain64(sector)
    if ivgen == "essiv":
        return iv_essiv(sector, key, ivhash)
    raise ValueError(ivgen)


# ---- openssl enc --------------------------------------------------------------------------------
def openssl_enc(cipher, key, iv, data, decrypt=False):
    cmd = ["openssl", "enc", "-" + cipher, "-K", key.hex(), "-nopad", "-nosalt"]
    if iv is not None:
        cmd += ["-iv", iv.hex()]
    if decrypt:
        cmd.append("-d")
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(cmd[:3]), p.stderr.decode()))
    return p.stdout


def openssl_cipher_name(cipher_name, mode, key_bytes):
    """Only AES: ('aes', 'xts', 64) -> 'aes-256-xts'."""
    if cipher_name != "aes":
        raise ValueError("luks_ref handles only aes (openssl CLI)")
    bits = 8 * (key_bytes // 2 if mode == "xts" else key_bytes)
    return "aes-%d-%s" % (bits, mode)


def parse_mode(cipher_mode):
    """'cbc-essiv:sha256' -> ('cbc', 'essiv', 'sha256'); 'xts-plain64' -> ('xts', 'plain64', None)."""
    mode, _, iv = cipher_mode.partition("-")
    ivgen, _, ivhash = iv.partition(":")
    return mode, ivgen, (ivhash or None)


def crypt_sectors(cipher_name, cipher_mode, key, data, first_sector, decrypt=False):
    """En/decrypt data (multiple of 512 bytes) sector by sector, IV sector numbers starting at
    first_sector (LUKS key material: 0; qcow2 LUKS data: host offset / 512; AES: guest / 512)."""
    mode, ivgen, ivhash = parse_mode(cipher_mode)
    name = openssl_cipher_name(cipher_name, mode, len(key))
    n = len(data) // SECTOR
    if ivgen == "essiv" and mode != "ecb":
        # all ESSIV IVs in one ECB call (ECB encrypts each block independently)
        salt = hashlib.new(ivhash, key).digest()
        blocks = b"".join(iv_plain64(first_sector + i) for i in range(n))
        ivs = [c[:16] for c in _chunks(aes_ecb_encrypt(salt, blocks), 16)]
    else:
        ivs = [None if mode == "ecb" else make_iv(ivgen, first_sector + i, key, ivhash)
               for i in range(n)]
    if mode == "xts":
        return xts_sectors(key, ivs, data, decrypt)
    out = bytearray()
    for i in range(n):
        out += openssl_enc(name, key, ivs[i], data[i * SECTOR:(i + 1) * SECTOR], decrypt)
    return bytes(out)


def _gf_double(t):
    """Multiply a 16-byte XTS tweak by alpha (little-endian GF(2^128), polynomial 0x87)."""
    v = int.from_bytes(t, "little") << 1
    if v >> 128:
        v = (v & ((1 << 128) - 1)) ^ 0x87
    return v.to_bytes(16, "little")


def xts_sectors(key, tweaks, data, decrypt=False):
    """AES-XTS (IEEE 1619) with one 512-byte data unit per tweak, built from AES-ECB of the
    openssl CLI (openssl 3.0 `enc` refuses XTS): T0 = E_K2(tweak), T_j = T0 * alpha^j,
    C_j = E_K1(P_j ^ T_j) ^ T_j. Key = K1 || K2."""
    half = len(key) // 2
    k1, k2 = key[:half], key[half:]
    bits = 8 * half
    t0 = openssl_enc("aes-%d-ecb" % bits, k2, None, b"".join(tweaks))
    tw = bytearray()
    for i in range(len(tweaks)):
        t = t0[16 * i:16 * i + 16]
        for _ in range(SECTOR // 16):
            tw += t
            t = _gf_double(t)
    x = _xor(data, tw)
    y = openssl_enc("aes-%d-ecb" % bits, k1, None, x, decrypt)
    return _xor(y, tw)


def _chunks(b, n):
    return [b[i:i + n] for i in range(0, len(b), n)]


def legacy_aes_key(passphrase):
    """qcow2 crypt_method 1: the first 16 passphrase bytes, zero-padded."""
    return passphrase[:16].ljust(16, b"\0")


def legacy_aes_crypt(passphrase, data, guest_offset, decrypt=False):
    return crypt_sectors("aes", "cbc-plain64", legacy_aes_key(passphrase), data,
                         guest_offset // SECTOR, decrypt)


# ---- full slot unlock with every intermediate value -------------------------------------------
def unlock(path, passphrase):
    import luks_edit
    import qcow2_edit
    with qcow2_edit.Image(path) as img:
        off, ln = luks_edit.fde_pointer(img)
        area = img.read(off, ln)
    ph = luks_edit.parse_phdr(area[:592])
    kb = ph["key_bytes"]
    for k, s in enumerate(ph["slots"]):
        if s["active"] != luks_edit.ACTIVE:
            continue
        salt = bytes.fromhex(s["salt"])
        slot_key = pbkdf2(ph["hash_spec"], passphrase, salt, s["iterations"], kb)
        mlen = kb * s["stripes"]
        padded = (mlen + SECTOR - 1) // SECTOR * SECTOR
        enc = area[s["key_material_offset"] * SECTOR:s["key_material_offset"] * SECTOR + padded]
        dec = crypt_sectors(ph["cipher_name"], ph["cipher_mode"], slot_key, enc, 0, True)[:mlen]
        mk = af_merge(ph["hash_spec"], dec, kb, s["stripes"])
        dg = pbkdf2(ph["hash_spec"], mk, bytes.fromhex(ph["mk_digest_salt"]),
                    ph["mk_digest_iter"], 20)
        if dg.hex() == ph["mk_digest"]:
            return {"slot": k, "phdr": ph, "fde_offset": off, "fde_length": ln,
                    "slot_key": slot_key, "key_material_encrypted": enc[:mlen],
                    "key_material": dec, "master_key": mk, "mk_digest": dg}
    return None


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "unlock":
        r = unlock(sys.argv[2], sys.argv[3].encode())
        if r is None:
            print("no slot unlocks")
            sys.exit(1)
        print(json.dumps({"slot": r["slot"], "master_key": r["master_key"].hex(),
                          "slot_key": r["slot_key"].hex(), "mk_digest": r["mk_digest"].hex()},
                         indent=1))
    else:
        print(__doc__)
        sys.exit(2)
