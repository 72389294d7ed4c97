"""File and module helpers shared by the runner and the vector tools."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import types
from typing import Optional


def sha256_file(path: str) -> str:
    """Lower-case hex SHA-256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def load_module_file(path: str, name: Optional[str] = None) -> types.ModuleType:
    """The Python file `path` as module `name` (default: its base name),
    registered in sys.modules; the module already registered under that name
    when it was loaded from the same file. For a tool's own files next to
    data it reads (e.g. <root>/vectors/tools/ops_model.py of the workspace a
    run uses), without putting their directory on sys.path."""
    name = name or os.path.splitext(os.path.basename(path))[0]
    mod = sys.modules.get(name)
    if mod is not None and os.path.abspath(getattr(mod, "__file__", "") or "") == \
            os.path.abspath(path):
        return mod
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s" % path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod
