#!/usr/bin/env bash
# What chat-view clients that never read cost: starts the server BIN on a
# free port with bench.ron's lifted limits but the DEFAULT send queue limit
# (sendQueueLimit 262144) and default flood limits (floodRate 5, floodBurst
# 10), runs `chatsock-bench stall` against it (N viewers that stop reading,
# one sender at RATE messages/s for SECS seconds), and prints the kernel's
# view before, at the end of the run (clients still connected) and after
# the clients have gone: /proc/net/sockstat and the sum over the server's
# connected sockets of `ss -tm` (Send-Q and skmem t, w, tb). Stops the
# server.
#
#   bash bench/stall.sh BIN [N [SECS [RATE]]]     (defaults 200 30 5)
#
# A RATE above 5 (the default floodRate) would get the sender throttled and
# then disconnected for excess flood, so for those runs the config lifts
# the flood limit (floodRate 0) and says so; everything else stays.
# The bench is built from this checkout (into $CARGO_TARGET_DIR or target).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ $# -gt 4 ]; then
  echo "usage: bash bench/stall.sh BIN [N [SECS [RATE]]]" >&2
  exit 2
fi
bin=$(realpath "$1")
n=${2:-200}
secs=${3:-30}
rate=${4:-5}
[ -x "$bin" ] || { echo "stall: $bin is not an executable" >&2; exit 2; }

cargo build --release --bin chatsock-bench >&2
bench=${CARGO_TARGET_DIR:-target}/release/chatsock-bench

work=$(mktemp -d)
pid=
bpid=
stop() {
  if [ -n "$bpid" ] && kill -0 "$bpid" 2>/dev/null; then
    kill -TERM "$bpid" 2>/dev/null || true
    wait "$bpid" 2>/dev/null || true
  fi
  bpid=
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # A second signal ends the 5-second grace period at once.
    kill -TERM "$pid"; sleep 0.2; kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}
trap 'stop; rm -rf "$work"' EXIT

# bench.ron with the defaults for the limits this run is about.
flood=5
if awk -v r="$rate" 'BEGIN { exit !(r > 5) }'; then
  flood=0
  echo "note: --rate $rate is above the default floodRate 5: the flood limit is lifted (floodRate 0)"
fi
sed -e 's/^\( *sendQueueLimit:\).*/\1 262144,/' \
    -e "s/^\\( *floodRate:\\).*/\\1 $flood,/" \
    -e 's/^\( *floodBurst:\).*/\1 10,/' bench.ron >"$work/stall.ron"
grep -q '^ *sendQueueLimit: 262144,' "$work/stall.ron" && grep -q "^ *floodRate: $flood," "$work/stall.ron" \
  || { echo "stall: could not set the limits in a copy of bench.ron" >&2; exit 1; }
echo "config: bench.ron with sendQueueLimit 262144, floodRate $flood, floodBurst 10"

ulimit -n "$(ulimit -Hn)"
: >"$work/out"
"$bin" --config "$work/stall.ron" --port 0 >"$work/out" 2>"$work/err" &
pid=$!
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's/^Now running on //p' "$work/out")
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "stall: the server exited:" >&2; tail -5 "$work/err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "stall: the server never printed 'Now running on'" >&2; exit 1; }
port=${addr##*:}

kernel() {
  echo "-- $1"
  echo "   /proc/net/sockstat: $(grep '^TCP:' /proc/net/sockstat)" \
    "($(awk -v p="$(getconf PAGESIZE)" '/^TCP:/ { for (i = 1; i < NF; i++) if ($i == "mem") printf "%.1f MiB", $(i + 1) * p / 1048576 }' /proc/net/sockstat), machine-wide)"
  if ! command -v ss >/dev/null; then
    echo "   ss: not installed (apt-get install -y iproute2)"
    return
  fi
  ss -tmnOH state connected "( sport = :$port )" | awk '
    { n++; sq += $3; if ($1 != "ESTAB") other++ }
    match($0, /skmem:\([^)]*\)/) {
      k = split(substr($0, RSTART + 6, RLENGTH - 7), f, ",")
      for (i = 1; i <= k; i++) {
        if (f[i] ~ /^tb[0-9]/) { v = substr(f[i], 3) + 0; tb += v; if (v > tbmax) tbmax = v }
        else if (f[i] ~ /^t[0-9]/) t += substr(f[i], 2)
        else if (f[i] ~ /^w[0-9]/) { v = substr(f[i], 2) + 0; w += v; if (v > wmax) wmax = v }
      }
    }
    END {
      m = 1048576
      printf "   ss -tm, server port %s: %d connected sockets (%d not ESTAB); Send-Q %.1f MiB;", port, n, other, sq / m
      printf " skmem t %.1f MiB, w %.1f MiB (largest %.2f MiB), tb %.1f MiB (largest %.2f MiB)\n", t / m, w / m, wmax / m, tb / m, tbmax / m
    }' port="$port"
}

echo "server: $bin (pid $pid) on $addr"
kernel "before"
echo "\$ chatsock-bench stall --addr ADDR -n $n -s $secs --rate $rate --pid PID --hold 5"
"$bench" stall --addr "$addr" -n "$n" -s "$secs" --rate "$rate" --pid "$pid" --hold 5 \
  --timeout $((secs + 120)) >"$work/bench" 2>&1 &
bpid=$!
shown=0
while ! grep -q '^RESULT' "$work/bench"; do
  if ! kill -0 "$bpid" 2>/dev/null; then
    cat "$work/bench"
    wait "$bpid" || { echo "stall: chatsock-bench failed" >&2; exit 1; }
    echo "stall: chatsock-bench ended without a RESULT line" >&2
    exit 1
  fi
  lines=$(wc -l <"$work/bench")
  if [ "$lines" -gt "$shown" ]; then
    sed -n "$((shown + 1)),${lines}p" "$work/bench"
    shown=$lines
  fi
  sleep 0.2
done
sleep 0.2
sed -n "$((shown + 1)),\$p" "$work/bench"
shown=$(wc -l <"$work/bench")
kernel "end of the run, clients still connected"
wait "$bpid" || { echo "stall: chatsock-bench failed" >&2; exit 1; }
bpid=
sed -n "$((shown + 1)),\$p" "$work/bench"
sleep 1
kernel "1 s after the clients closed"
echo "server log: $(grep -c '(send queue full;' "$work/err" || true) clients disconnected for 'send queue full'," \
  "$(grep -c 'client disconnected' "$work/err" || true) disconnects in all"
kill -0 "$pid" 2>/dev/null || { echo "stall: the server died during the run" >&2; exit 1; }
stop
