"""Running one adapter invocation in isolation.

Each invocation gets a fresh directory holding read-only copies of the image
and its chain files (flat), a private TMPDIR and, when the vector is
encrypted, a 0600 secret file outside the image directory. The adapter runs
in its own process group with a wall-clock limit and RLIMIT_AS; stdout is
hashed while it streams and cut off at a cap; afterwards the staged files are
re-hashed so that an implementation that writes to its input is caught.
"""
import hashlib
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import qct_protocol
from qcow2ref_py.files import sha256_file

DEFAULT_TIMEOUT_S = 10.0
LONG_TIMEOUT_S = 60.0
AS_LIMIT_BYTES = 2560 << 20
STDERR_KEEP = 4096


class Invocation(object):
    """What one adapter process did."""

    def __init__(self):
        self.argv = []          # As run, with the secret file path only.
        self.exit_code = None   # None when killed by a signal.
        self.signal = None      # Signal number when the process died of one.
        self.timed_out = False
        self.stdout_capped = False  # Output exceeded the cap; process killed.
        self.stdout_len = 0
        self.stdout_sha256 = None
        self.stdout = b""       # First `keep` bytes only.
        self.stderr_head = b""
        self.stderr_tail = b""
        self.duration_ms = 0
        self.modified = []      # Staged files that changed or vanished.
        self.harness_error = None
        self.status = None      # qct_protocol.Status when the process exited.
        self.status_hint = ""   # Why an exit status counts as a crash.
        self.protocol = qct_protocol.CURRENT

    def first_stderr_line(self):
        for line in self.stderr_head.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line.strip()[:500]
        return ""

    def stderr_text(self):
        return self.stderr_tail.decode("utf-8", "replace")


_hash_cache = {}
_hash_lock = threading.Lock()


def source_sha256(path):
    with _hash_lock:
        h = _hash_cache.get(path)
    if h is None:
        h = sha256_file(path)
        with _hash_lock:
            _hash_cache[path] = h
    return h


def _limits(as_bytes):
    def apply():
        if as_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Executor(object):
    def __init__(self, adapter, tmp_root=None, timeout_scale=1.0,
                 as_limit=AS_LIMIT_BYTES, keep_tmp=False, env=None):
        self.adapter = adapter
        self.tmp_root = tmp_root or tempfile.gettempdir()
        self.timeout_scale = timeout_scale
        self.as_limit = as_limit
        self.keep_tmp = keep_tmp
        self.env = dict(os.environ if env is None else env)
        # The newest protocol the runner speaks; the adapter answers with the
        # one it implements in capabilities.protocol.
        self.env["QCOW2CT_PROTOCOL"] = str(qct_protocol.CURRENT)
        self.protocol = qct_protocol.CURRENT

    def timeout_for(self, vector):
        base = LONG_TIMEOUT_S if vector is not None and vector.timeout_class == "long" \
            else DEFAULT_TIMEOUT_S
        return base * self.timeout_scale

    def capabilities(self, timeout=10.0):
        """Runs `ADAPTER capabilities`; returns (dict or None, Invocation)."""
        import json
        d = tempfile.mkdtemp(prefix="caps-", dir=self.tmp_root)
        try:
            inv = self.run_argv([self.adapter, "capabilities"], d, d,
                                timeout * self.timeout_scale, cap=1 << 20, keep=1 << 20)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if inv.exit_code != 0:
            return None, inv
        try:
            caps = json.loads(inv.stdout.decode("utf-8"))
        except ValueError:
            return None, inv
        if isinstance(caps, dict) and caps.get("protocol") in qct_protocol.SUPPORTED:
            self.protocol = caps["protocol"]
        return caps, inv

    def invoke(self, vector, command, args=(), secret=None, cap=None, keep=0,
               with_image=True):
        """Runs `ADAPTER command --image NAME args [--secret-file F]` for a
        vector, staged in a fresh directory."""
        base = tempfile.mkdtemp(prefix="inv-", dir=self.tmp_root)
        inv = None
        try:
            img_dir = os.path.join(base, "img")
            scratch = os.path.join(base, "tmp")
            os.mkdir(img_dir)
            os.mkdir(scratch)
            staged = []
            for src, name in vector.files():
                dst = os.path.join(img_dir, name)
                shutil.copyfile(src, dst)
                os.chmod(dst, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                staged.append((src, dst))
            argv = [self.adapter, command]
            if with_image:
                argv += ["--image", os.path.basename(vector.image)]
            argv += [str(a) for a in args]
            if secret is not None:
                sdir = os.path.join(base, "secret")
                os.mkdir(sdir, 0o700)
                spath = os.path.join(sdir, "passphrase")
                fd = os.open(spath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secret)
                argv += ["--secret-file", spath]
            inv = self.run_argv(argv, img_dir, scratch, self.timeout_for(vector), cap, keep)
            for src, dst in staged:
                try:
                    same = sha256_file(dst) == source_sha256(src)
                except OSError:
                    same = False
                if not same:
                    inv.modified.append(os.path.basename(dst))
            return inv
        except OSError as e:
            if inv is None:
                inv = Invocation()
            inv.harness_error = "harness: %s" % e
            return inv
        finally:
            if not self.keep_tmp:
                shutil.rmtree(base, ignore_errors=True)

    def run_argv(self, argv, cwd, scratch, timeout, cap, keep, protocol=None):
        """Runs `argv` in `cwd` under the runner's isolation (TMPDIR=`scratch`,
        RLIMIT_AS, its own process group killed at `timeout` seconds, stdout
        capped at `cap` bytes, the first `keep` kept); the Invocation. Also
        used by qct_ops for `write`, which has no image to stage."""
        inv = Invocation()
        inv.argv = list(argv)
        inv.protocol = self.protocol if protocol is None else protocol
        env = dict(self.env)
        env["TMPDIR"] = scratch
        env["QCOW2CT_TIMEOUT"] = "%g" % timeout
        h = hashlib.sha256()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True,
                                    preexec_fn=_limits(self.as_limit))
        except OSError as e:
            inv.harness_error = "cannot start adapter: %s" % e
            return inv
        deadline = start + timeout
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
        open_pipes = 2
        kept = []
        kept_len = 0
        err_head = bytearray()
        err_tail = bytearray()
        exited_at = None
        try:
            while open_pipes:
                now = time.monotonic()
                if now >= deadline:
                    inv.timed_out = True
                    break
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > 1.0:
                    break  # A leftover child holds the pipes open.
                for key, _ in sel.select(timeout=min(0.2, deadline - now)):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        sel.unregister(key.fileobj)
                        open_pipes -= 1
                        continue
                    if key.data == "out":
                        inv.stdout_len += len(data)
                        h.update(data)
                        if kept_len < keep:
                            kept.append(data[:keep - kept_len])
                            kept_len += len(kept[-1])
                        if cap is not None and inv.stdout_len > cap:
                            inv.stdout_capped = True
                            open_pipes = 0
                            break
                    else:
                        if len(err_head) < STDERR_KEEP:
                            err_head += data[:STDERR_KEEP - len(err_head)]
                        err_tail += data
                        if len(err_tail) > STDERR_KEEP:
                            del err_tail[:len(err_tail) - STDERR_KEEP]
        finally:
            sel.close()
            if inv.timed_out or inv.stdout_capped:
                _killpg(proc.pid)
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                inv.timed_out = True
                _killpg(proc.pid)
                proc.wait()
            _killpg(proc.pid)  # Whatever the adapter left behind.
            proc.stdout.close()
            proc.stderr.close()
        inv.duration_ms = int((time.monotonic() - start) * 1000)
        rc = proc.returncode
        if rc is not None and rc < 0:
            inv.signal = -rc
        else:
            inv.exit_code = rc
        if inv.timed_out or inv.stdout_capped:
            # The kill is ours, not the implementation's.
            inv.signal = None
            inv.exit_code = None
        inv.stdout_sha256 = h.hexdigest()
        inv.stdout = b"".join(kept)
        inv.stderr_head = bytes(err_head)
        inv.stderr_tail = bytes(err_tail)
        if inv.exit_code is not None:
            inv.status, inv.status_hint = qct_protocol.classify(
                inv.protocol, inv.exit_code,
                (inv.stderr_head + inv.stderr_tail).decode("utf-8", "replace"))
        return inv
