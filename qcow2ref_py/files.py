"""File helpers shared by the runner and the vector tools."""
from __future__ import annotations

import hashlib


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
