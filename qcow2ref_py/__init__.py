"""qcow2ref's Python code shared by the conformance runner and the vector tools.

Modules:
  model      the typed model of a vector and of a result (dataclasses + Enum)
  manifests  the one reader of the vector manifests (vectors/qcow2_*_test.json)
  files      small file helpers (sha256_file)

Python 3 standard library only. Importable when the checkout's root is on
sys.path: `python3 -m` from the root, Bazel py_library deps (//:qcow2ref_py),
or the entry scripts' bootstrap (docs/architecture.md, "Python").
"""
