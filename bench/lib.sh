# Sourced by the bench scripts (measure.sh, tls.sh, ssh.sh): the release
# build, a temporary work directory, one server at a time and the bench
# runner. After `bench_init NAME`:
#   $root $bin $server $work   the repo, the release dir, the server binary
#                              (NEW=path overrides it), a temporary directory
#   start [BIN] [FLAGS...]     a fresh server (default $server) with
#                              bench.ron on free ports, run in $work (where
#                              a TLS pair or SSH host key is made); sets
#                              $pid and $plain (= $addr), and $tls / $ssh
#                              when FLAGS ask for those listeners
#   stop                       SIGTERM twice (no grace period), wait
#   bench ARGS...              chatsock-bench ARGS --pid $pid, its RESULT
#                              lines on stdout, the command on stderr
#   machine                    the machine, commit and limits lines

bench_init() {
  bench_name=$1
  root=$PWD
  bin=${CARGO_TARGET_DIR:-target}/release
  case $bin in /*) ;; *) bin=$root/$bin ;; esac
  server=${NEW:-$bin/chatsock}
  work=$(mktemp -d)
  pid=
  trap 'stop; rm -rf "$work"' EXIT
}

stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; sleep 0.2; kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}

start() {
  local b=$server
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    b=$1
    shift
  fi
  # It runs in $work: a relative path (OLD=target-old/chatsock) from here.
  b=$(realpath "$b")
  # The server needs a descriptor per client: as many as the hard limit allows.
  ulimit -n "$(ulimit -Hn)"
  : >"$work/out"
  (cd "$work" && exec "$b" --config "$root/bench.ron" --port 0 "$@" >"$work/out" 2>"$work/err") &
  pid=$!
  local want_tls= want_ssh=
  case " $* " in *" --tls-port "*) want_tls=1 ;; esac
  case " $* " in *" --ssh-port "*) want_ssh=1 ;; esac
  for _ in $(seq 1 50); do
    plain=$(sed -n 's/^Now running on //p' "$work/out")
    tls=$(sed -n 's/^TLS on \([^,]*\),.*/\1/p' "$work/out")
    ssh=$(sed -n 's/^SSH on \([^,]*\),.*/\1/p' "$work/out")
    addr=$plain
    if [ -n "$plain" ] && { [ -z "$want_tls" ] || [ -n "$tls" ]; } && { [ -z "$want_ssh" ] || [ -n "$ssh" ]; }; then
      return 0
    fi
    sleep 0.1
  done
  echo "$bench_name: the server did not start" >&2
  exit 1
}

bench() {
  echo "\$ chatsock-bench $*" | sed "s/$pid/PID/; s|$work|WORK|g; s/${tls:-TLS_ADDR}/TLS_ADDR/; s/${ssh:-SSH_ADDR}/SSH_ADDR/; s/$plain/ADDR/" >&2
  timeout 300 "$bin/chatsock-bench" "$@" --pid "$pid" | grep --line-buffered '^RESULT'
}

machine() {
  echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo ' (with uncommitted changes in src)')"
  fi
}

# fanout_summary FILE: a table of the fan-out RESULT lines in FILE (one row
# per run, in the order run), labelled by their transport=.
fanout_summary() {
  echo
  echo "fan-out summary (one row per run, in the order run):"
  awk '
    function get(k,   i, kv) {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
      return "-"
    }
    /^RESULT/ {
      if (!f++) printf "%-9s %10s %6s %9s %9s %9s %9s\n", "transport", "deliv/s", "lost", "p50_us", "p99_us", "cpu_s/M", "peak_kib"
      printf "%-9s %10s %6s %9s %9s %9s %9s\n", get("transport"), get("deliveries_per_s"), get("lost"), get("p50_us"), get("p99_us"), get("server_cpu_s_per_million"), get("server_peak_rss_kib")
    }
  ' "$1"
}
