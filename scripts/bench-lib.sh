# Shared by the shell benchmarks (bench-help.sh, bench-hooks.sh, bench-completion.sh): source it.

once_us() { # command… → wall µs of one run
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

# µs samples on stdin → their median in ms, one decimal
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
