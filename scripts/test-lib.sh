# Shared by scripts/test-daemon.sh and scripts/test-podman.sh (sourced, not run).

# unmount_below DIR [DIR2]: every mount whose mount point lies below DIR or DIR2 (what a killed
# daemon or service left), deepest first.
unmount_below() {
  local mp
  awk -v a="$1" -v b="${2:-$1}" '{ if (index($5, a) == 1 || index($5, b) == 1) print $5 }' /proc/self/mountinfo |
    sort -r | while read -r mp; do
      umount -l "$(printf '%b' "$mp")" 2>/dev/null || true
    done
}

# The caller's descriptors above stderr closed (e.g. the flock lock a test run holds), so that a
# daemon started from here does not inherit, and hold, them for its lifetime.
close_inherited_fds() {
  local fd
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null && [ "$fd" != 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}
