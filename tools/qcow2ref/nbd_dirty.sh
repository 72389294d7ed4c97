# Sourced by the bitmap tests: the dirty bits QEMU itself exports for a
# persistent bitmap, read through a read-only qemu-nbd on a unix socket (in a
# short directory of its own: socket paths are limited to 108 bytes) by
# `nbdinfo --map=qemu:dirty-bitmap:NAME`.
#   nbd_dirty IMAGE BITMAP   prints "start length" of each dirty extent
# Needs qemu-nbd and nbdinfo; removes its socket directory and servers on exit.
nbd_sockdir=$(mktemp -d /tmp/q2nbd.XXXXXX)
nbd_pids=()
trap 'for p in "${nbd_pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$nbd_sockdir"' EXIT

nbd_dirty() {
  local sock="$nbd_sockdir/s" pidf="$nbd_sockdir/pid"
  rm -f "$sock" "$pidf"
  qemu-nbd -r -f qcow2 -B "$2" -k "$sock" --persistent --fork --pid-file="$pidf" "$1" \
    2>"$nbd_sockdir/err" || {
    echo "qemu-nbd failed: $(cat "$nbd_sockdir/err")"
    return 1
  }
  nbd_pids+=("$(cat "$pidf")")
  timeout 30 nbdinfo --map="qemu:dirty-bitmap:$2" "nbd+unix:///?socket=$sock" |
    awk '$4 == "dirty" {print $1, $2}'
  kill "$(cat "$pidf")" 2>/dev/null
  sleep 0.2
}
