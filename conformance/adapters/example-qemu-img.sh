#!/bin/sh
# A complete minimal adapter (POSIX sh) around `qemu-img convert`: copy it,
# replace the two tool lines, and run
#   bazel run //conformance:run -- --adapter /path/to/it
# Exit codes (protocol 2): 65 rejected, 69 unsupported, 64 usage error.
cmd=$1; shift
img= off= len= snap= secret=
while [ $# -gt 0 ]; do
  case $1 in
    --image) img=$2 ;; --offset) off=$2 ;; --length) len=$2 ;;
    --snapshot) snap=$2 ;; --secret-file) secret=$2 ;;
    *) echo "error: usage: unknown option $1" >&2; exit 64 ;;
  esac
  shift 2
done
case $cmd in
  capabilities)
    echo '{"protocol": 2, "name": "qemu-img-sh-example", "version": "1",
      "commands": ["capabilities", "read"],
      "features": ["v2", "v3", "zstd", "compressed", "xl2", "backing", "backing_raw",
                   "snapshots", "bitmaps"]}'
    exit 0 ;;
  read) ;;
  *) exit 69 ;;  # an optional command this adapter does not implement
esac
[ -n "$secret" ] && { echo "error: unsupported: no passphrases here" >&2; exit 69; }
out=${TMPDIR:-/tmp}/guest.raw
if [ -n "$snap" ]; then set -- -l "snapshot.name=$snap"; else set --; fi
qemu-img convert -f qcow2 -O raw "$@" "$img" "$out"    # the tool line
rc=$?
[ $rc -gt 128 ] && exit $rc      # killed by a signal: any status but 0/64/65/69 is a crash
[ $rc -ne 0 ] && exit 65         # rejected; qemu-img's message is on stderr
if [ -n "$len" ]; then tail -c +$((off + 1)) "$out" | head -c "$len"; else cat "$out"; fi
