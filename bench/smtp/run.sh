#!/usr/bin/env bash
# SMTP receiving benchmark: Postfix's smtp-source drives, one cell at a time,
#   ours-tmpfs   the daemon (cmd/ecelerity) with its ESMTP listener's spool on tmpfs, Force_Fsync off
#   ours-disk    the ESMTP listener with the durable spool on disk (group commit)
#   ours-syncfs  the same with Spool_Sync_Method = "syncfs" (one syncfs per batch)
#   ours-fsync1  the same with Spool_Group_Commit = false (one fsync per message)
#   ours-files   as ours-tmpfs with Spool_Segment_Size = 0: a file per message
#                instead of segment records (not in the default SERVERS)
#   smtp-sink    Postfix's C event-loop sink, which keeps nothing
#   go-smtp      github.com/emersion/go-smtp v0.25.1 with a discard backend
# at 1, 10 and 100 sessions, 1 KiB and 100 KiB messages, with -d (connections
# reused) and without. For each cell it prints messages per second and the
# server's CPU seconds (utime+stime from /proc/PID/stat) per 10,000 messages,
# then the ratios against smtp-sink.
#
# Usage: bench/smtp/run.sh [scale]   (scale multiplies the message counts; 1 by default)
# Each cell runs ROUNDS times (5 by default), every server once per round, one
# after the other, and reports each server's median rate and median CPU: on a
# shared machine whose speed drifts from minute to minute, the servers of a
# cell then see the same drift, and one slow round does not decide a ratio.
# It installs Postfix with apt-get when smtp-source is missing (needs root).
# Environment, to run a subset or compare two builds in the same run:
#   SIZES="1024 102400" SESSIONS="1 10 100" REUSE="yes no"   the cells
#   SERVERS="smtp-sink go-smtp ours-tmpfs ours-disk"          the servers of the table
#   DURABILITY="10 100"                                       sessions of the durability part ("" skips it)
#   BASELINE=/path/to/ecelerity   also run that daemon build as base-tmpfs, base-disk,
#                                 base-syncfs and base-fsync1 (say, the last commit)
set -euo pipefail
scale=${1:-1}
SIZES=${SIZES-1024 102400}
SESSIONS=${SESSIONS-1 10 100}
REUSE=${REUSE-yes no}
SERVERS=${SERVERS-smtp-sink go-smtp ours-tmpfs ours-disk}
DURABILITY=${DURABILITY-10 100}
ROUNDS=${ROUNDS-5}
BASELINE=${BASELINE-}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/smtpbench.XXXXXX)
shm=$(mktemp -d /dev/shm/smtpbench.XXXXXX)
disk=$(mktemp -d /var/tmp/smtpbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work" "$shm" "$disk"
}
trap cleanup EXIT

if ! command -v smtp-source >/dev/null && [ ! -x /usr/sbin/smtp-source ]; then
  echo "installing postfix (for smtp-source and smtp-sink)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq >/dev/null
  apt-get install -y -qq postfix >/dev/null
fi
PATH=$PATH:/usr/sbin
tck=$(getconf CLK_TCK)

echo "building..." >&2
(cd "$top" && go build -o "$work/ecelerity" ./cmd/ecelerity && go build -o "$work/gosmtpsink" ./bench/smtp/gosmtpsink)

conf() { # name port spooldir fsync group [sync-method [segment-size]]
  local extra=""
  [ -n "${6:-}" ] && extra="Spool_Sync_Method = $6"
  [ -n "${7:-}" ] && extra="$extra
  Spool_Segment_Size = $7"
  # No Logging stanza: the daemon writes no mainlog or paniclog, as the peers
  # keep no log either; its own lines go to stderr.
  cat >"$work/$1.conf" <<CONF
Control_Listener { Listen "$work/$1.sock" { } }
Spoolbase = "$3"
Force_Fsync = $4
Domain "example.com" { }
ESMTP_Listener {
  Banner_Hostname = "bench"
  Spool_Group_Commit = $5
  $extra
  Max_Recipients_Per_Message = 0
  Listen "127.0.0.1:$2" { Listen_Backlog = 1024 }
}
CONF
}

declare -A port pid spooldir
start_ours() { # name port spooldir fsync group [sync-method [segment-size]]
  local bin=$work/ecelerity
  case $1 in base-*) bin=$BASELINE ;; esac
  conf "$@"
  "$bin" -c "$work/$1.conf" >"$work/$1.out" 2>"$work/$1.err" &
  pid[$1]=$!; pids+=("$!"); port[$1]=$2; spooldir[$1]=$3
  for _ in $(seq 100); do grep -q " ready (" "$work/$1.err" 2>/dev/null && return; sleep 0.1; done
  echo "$1 did not start" >&2; cat "$work/$1.err" >&2; exit 1
}
start_ours ours-tmpfs 2531 "$shm/spool" false true
start_ours ours-disk 2532 "$disk/spool" true true
start_ours ours-fsync1 2533 "$disk/spool1" true false
start_ours ours-syncfs 2536 "$disk/spool2" true true syncfs
case " $SERVERS " in *" ours-files "*) start_ours ours-files 2537 "$shm/fspool" false true fdatasync 0 ;; esac
if [ -n "$BASELINE" ]; then
  start_ours base-tmpfs 2541 "$shm/bspool" false true
  start_ours base-disk 2542 "$disk/bspool" true true
  start_ours base-fsync1 2543 "$disk/bspool1" true false
  start_ours base-syncfs 2546 "$disk/bspool2" true true syncfs
fi
smtp-sink -u nobody 127.0.0.1:2534 1024 &
pid[smtp-sink]=$!; pids+=("$!"); port[smtp-sink]=2534
"$work/gosmtpsink" -addr 127.0.0.1:2535 &
pid[go-smtp]=$!; pids+=("$!"); port[go-smtp]=2535
sleep 1

cpu() { awk -v t="$tck" '{print ($14+$15)/t}' "/proc/$1/stat"; }

# cell SERVER SESSIONS SIZE REUSE COUNT: prints "msgs/s cpu_s_per_10k"
cell() {
  local srv=$1 s=$2 size=$3 reuse=$4 m=$5 d=""
  [ "$reuse" = yes ] && d=-d
  local c0 t0 t1 c1
  c0=$(cpu "${pid[$srv]}"); t0=$(date +%s.%N)
  smtp-source $d -s "$s" -m "$m" -l "$size" -f bench@client.example -t user@example.com "127.0.0.1:${port[$srv]}" >/dev/null
  t1=$(date +%s.%N); c1=$(cpu "${pid[$srv]}")
  kill -0 "${pid[$srv]}" || { echo "$srv died" >&2; exit 1; }
  # Empty a tmpfs spool (memory); keep what a disk spool took until the end of
  # the run: on ext4 without a journal, creating a file skips, one by one,
  # the inodes freed in the last half minute or so (recently_deleted), so
  # deleting thousands of spool files between cells would make the next cells
  # of every disk server pay for this script's cleanup.
  case "${spooldir[$srv]:-}" in "$shm"/*) find "${spooldir[$srv]}/queue" -type f -delete 2>/dev/null || true ;; esac
  awk -v m="$m" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" 'BEGIN{printf "%.0f %.2f\n", m/(t1-t0), (c1-c0)/m*10000}'
}

count() { # sessions size reuse -> messages for a cell of a few seconds
  local n
  case "$2:$1" in
    1024:1) n=1500 ;; 1024:10) n=4000 ;; 1024:100) n=8000 ;;
    *:1) n=300 ;; *:10) n=1000 ;; *:100) n=2000 ;;
  esac
  [ "$3" = no ] && n=$((n / 2))
  echo $((n * scale))
}

median() { sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

printf "%-12s %4s %7s %5s %8s %10s %12s %10s %10s\n" server sess size reuse msgs msg/s cpu/10k rate/sink cpu/sink
for size in $SIZES; do
  for reuse in $REUSE; do
    for s in $SESSIONS; do
      m=$(count "$s" "$size" "$reuse")
      declare -A rates=() cpus=()
      for _ in $(seq "$ROUNDS"); do
        for srv in smtp-sink ${SERVERS//smtp-sink/}; do
          read -r rate cpu < <(cell "$srv" "$s" "$size" "$reuse" "$m")
          rates[$srv]+="$rate "; cpus[$srv]+="$cpu "
        done
      done
      sink_rate=$(tr ' ' '\n' <<<"${rates[smtp-sink]}" | grep . | median)
      sink_cpu=$(tr ' ' '\n' <<<"${cpus[smtp-sink]}" | grep . | median)
      for srv in $SERVERS; do
        rate=$(tr ' ' '\n' <<<"${rates[$srv]}" | grep . | median)
        cpu=$(tr ' ' '\n' <<<"${cpus[$srv]}" | grep . | median)
        printf "%-12s %4s %7s %5s %8s %10.0f %12.2f %10.2f %10.2f\n" "$srv" "$s" "$size" "$reuse" "$m" "$rate" "$cpu" \
          "$(awk -v a="$rate" -v b="$sink_rate" 'BEGIN{print a/b}')" "$(awk -v a="$cpu" -v b="$sink_cpu" 'BEGIN{print (b>0)?a/b:0}')"
      done
      unset rates cpus
    done
  done
done

[ -z "$DURABILITY" ] && exit 0
echo
echo "durability: group commit against one fsync per message (1 KiB, -d; medians of $ROUNDS rounds)"
prefixes=ours
[ -n "$BASELINE" ] && prefixes="base ours"
for s in $DURABILITY; do
  # As many messages as the table's cell: a shorter run is mostly the start
  # of the sessions, which understates the fast servers (tmpfs, group commit)
  # and not the one bound by its flushes (fsync-each).
  m=$(count "$s" 1024 yes)
  for p in $prefixes; do
    gs="" sfss="" ones="" tmps=""
    for _ in $(seq "$ROUNDS"); do
      read -r r _ < <(cell $p-disk "$s" 1024 yes "$m"); gs+="$r "
      read -r r _ < <(cell $p-syncfs "$s" 1024 yes "$m"); sfss+="$r "
      read -r r _ < <(cell $p-fsync1 "$s" 1024 yes "$m"); ones+="$r "
      read -r r _ < <(cell $p-tmpfs "$s" 1024 yes "$m"); tmps+="$r "
    done
    g=$(tr ' ' '\n' <<<"$gs" | grep . | median); sfs=$(tr ' ' '\n' <<<"$sfss" | grep . | median)
    one=$(tr ' ' '\n' <<<"$ones" | grep . | median); tmp=$(tr ' ' '\n' <<<"$tmps" | grep . | median)
    printf "%s sessions %3s: group/fdatasync %6s msg/s, group/syncfs %6s msg/s, fsync-each %6s msg/s, tmpfs %6s msg/s\n" "$p" "$s" "$g" "$sfs" "$one" "$tmp"
    # tmpfs/fsync-each bounds group/fsync-each from above: the durable spool
    # does all the tmpfs one does, and flushes.
    printf "                   group/fsync-each x%.1f (syncfs x%.1f; bound tmpfs/fsync-each x%.1f); disk/tmpfs %.2f (syncfs %.2f)\n" \
      "$(awk -v a="$g" -v b="$one" 'BEGIN{print a/b}')" "$(awk -v a="$sfs" -v b="$one" 'BEGIN{print a/b}')" \
      "$(awk -v a="$tmp" -v b="$one" 'BEGIN{print a/b}')" \
      "$(awk -v a="$g" -v b="$tmp" 'BEGIN{print a/b}')" "$(awk -v a="$sfs" -v b="$tmp" 'BEGIN{print a/b}')"
  done
done
