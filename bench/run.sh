#!/usr/bin/env bash
# Switchboard's benchmark: the same client (`java -jar target/switchboard.jar bench`) measures a
# Switchboard node and Nchan (nginx + libnginx-mod-nchan, the reference peer) on this machine,
# scenario by scenario, and prints one comparison line per scenario. See docs/BENCHMARKS.md.
#
#   bench/run.sh                      the standard set (under 10 minutes on 2 quiet cores)
#   bench/run.sh --quick              small sizes, a few minutes
#   bench/run.sh --full               the issue's sizes (5 000 subscribers, 10 000 idle, ...), longer
#   bench/run.sh --only fanout,send   some scenarios only
#   bench/run.sh --only soak          the soak alone (SOAK_MINUTES=60 for the long one)
#
# It starts its own nginx (its own config, a loopback port, a run directory under a temporary
# directory; the system nginx service is never touched) and its own Switchboard node (its own data
# directory, port and cluster name), and stops both by PID at the end, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JAR="$ROOT/target/switchboard.jar"
SCENARIOS="fanout,latency,idle,send,cluster,storm,failover,soak"
SIZE=standard
NCHAN=1
OUT=""
KEEP=0
JAVA_BENCH_OPTS=${JAVA_BENCH_OPTS:--Xmx3g}
JAVA_NODE_OPTS=${JAVA_NODE_OPTS:--Xmx3g}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'
options:
  --quick | --full     sizes (default: standard)
  --only LIST          scenarios, comma-separated: fanout,latency,idle,send,cluster,storm,failover,soak
  --no-nchan           Switchboard only
  --out FILE           where the JSON lines go (default: bench/results/run-<date>.jsonl)
  --keep               keep the temporary run directory (logs, configs)
environment: JAVA_BENCH_OPTS (default -Xmx3g), JAVA_NODE_OPTS (default -Xmx3g),
  SOAK_MINUTES (default 5: the soak's length; --quick 2), SOAK_NEMESIS_SECONDS (default 60, or 180
  from 30 minutes on: time between two faults)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SIZE=quick ;;
    --full) SIZE=full ;;
    --only) SCENARIOS="$2"; shift ;;
    --no-nchan) NCHAN=0 ;;
    --out) OUT="$2"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

# Sizes: subscribers x messages for fan-out, and the rest.
case "$SIZE" in
  quick)    FAN_N=300;  FAN_M=200; POLL_M=50;  LAT_N=300;  LAT_M=100; IDLE_N=1000;  SEND_S=32; SEND_C=32; SEND_D=5
            CL_N=$FAN_N; CL_M=$FAN_M; STORM_N=1000; FO_N=500;  FAN_TRANSPORTS="sse,ws"; TIMEOUT=90; SOAK_DEFAULT=2 ;;
  standard) FAN_N=1000; FAN_M=500; POLL_M=100; LAT_N=1000; LAT_M=200; IDLE_N=5000;  SEND_S=64; SEND_C=64; SEND_D=10
            CL_N=$FAN_N; CL_M=$FAN_M; STORM_N=5000; FO_N=2000; FAN_TRANSPORTS="sse,ws,sockjs,poll"; TIMEOUT=120; SOAK_DEFAULT=5 ;;
  full)     FAN_N=5000; FAN_M=200; POLL_M=100; LAT_N=1000; LAT_M=400; IDLE_N=10000; SEND_S=64; SEND_C=64; SEND_D=20
            CL_N=3000; CL_M=$FAN_M; STORM_N=5000; FO_N=5000; FAN_TRANSPORTS="sse,ws,sockjs,poll"; TIMEOUT=240; SOAK_DEFAULT=5 ;;
esac
SOAK_MINUTES=${SOAK_MINUTES:-$SOAK_DEFAULT}
# The soak starts its own nodes and PostgreSQL: alone, it needs neither Nchan nor the shared node.
SB_NEEDED=1
if [ "$SCENARIOS" = soak ]; then SB_NEEDED=0; NCHAN=0; fi
if [ "$SOAK_MINUTES" -ge 30 ]; then SOAK_NEMESIS_SECONDS=${SOAK_NEMESIS_SECONDS:-180}; else SOAK_NEMESIS_SECONDS=${SOAK_NEMESIS_SECONDS:-60}; fi

has() { case ",$SCENARIOS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
log() { echo "run.sh: $*" >&2; }
CORES=$(nproc)
STARTED=$(date +%s)
# Every connection is a file descriptor, on both sides: as many as this shell may have.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- what the run needs ----------------------------------------------------------------------
if [ ! -f "$JAR" ]; then
  log "building $JAR"
  (cd "$ROOT" && { mvn -q -B -o package -Dmaven.test.skip=true || mvn -q -B package -Dmaven.test.skip=true; })
fi
apt_install() {
  log "installing $* with apt"
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  # RUNLEVEL=1: the package's init script must not start the system nginx service.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
if [ "$NCHAN" = 1 ] && { ! command -v nginx >/dev/null || [ ! -f "$NCHAN_MODULE" ]; }; then
  apt_install nginx libnginx-mod-nchan
fi
if has send && ! command -v pgbench >/dev/null; then
  apt_install postgresql-client
fi

WORK=$(mktemp -d /tmp/sb-bench.XXXXXX)
mkdir -p "$ROOT/bench/results"
RESULTS=${OUT:-$ROOT/bench/results/run-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
: > "$RESULTS"
NGINX_PID=""
SB_PID=""
PG_PID=""
BENCH_PID=""

cleanup() {
  set +e
  if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID"; wait "$BENCH_PID" 2>/dev/null
  fi
  if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -QUIT "$NGINX_PID"
    for _ in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$NGINX_PID" 2>/dev/null && kill -KILL "$NGINX_PID"
  fi
  if [ -n "$SB_PID" ] && kill -0 "$SB_PID" 2>/dev/null; then
    kill -TERM "$SB_PID"
    for _ in $(seq 1 200); do kill -0 "$SB_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$SB_PID" 2>/dev/null && kill -KILL "$SB_PID"
  fi
  # The node stops the PostgreSQL it started; if the node could not, stop it here (ours: its data is in $WORK).
  if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -TERM "$PG_PID"
    for _ in $(seq 1 50); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  if [ "$KEEP" = 1 ]; then log "run directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback TCP port (and the next `n-1` too), never one another process listens on.
free_port() {
  local n=${1:-1} p k busy
  for _ in $(seq 1 200); do
    p=$(( 30000 + RANDOM % 9000 )); busy=0
    for k in $(seq 0 $(( n - 1 ))); do
      if ss -Htan "sport = :$(( p + k ))" | grep -q .; then busy=1; break; fi
    done
    [ $busy = 0 ] && { echo "$p"; return; }
  done
  log "no free port"; exit 1
}
# True when the process $2 (or one of its children) listens on port $1.
listens() { ss -Hltnp "sport = :$1" | grep -q "pid=$2,"; }

# ---- Nchan ----------------------------------------------------------------------------------
if [ "$NCHAN" = 1 ]; then
  NPORT=$(free_port)
  NDIR="$WORK/nchan"
  mkdir -p "$NDIR"/tmp/{body,proxy,fcgi,uwsgi,scgi}
  sed -e "s#@DIR@#$NDIR#g" -e "s#@PORT@#$NPORT#g" -e "s#^worker_processes .*#worker_processes $CORES;#" \
    "$ROOT/bench/nchan.conf.template" > "$NDIR/nginx.conf"
  nginx -e "$NDIR/error.log" -c "$NDIR/nginx.conf" -p "$NDIR/"
  for _ in $(seq 1 50); do [ -s "$NDIR/nginx.pid" ] && break; sleep 0.1; done
  NGINX_PID=$(cat "$NDIR/nginx.pid")
  for _ in $(seq 1 50); do listens "$NPORT" "$NGINX_PID" || ss -Hltnp "sport = :$NPORT" | grep -q nginx && break; sleep 0.1; done
  NCHAN_URL="http://127.0.0.1:$NPORT"
  curl -fsS "$NCHAN_URL/nchan_status" >/dev/null
  log "Nchan: nginx master $NGINX_PID, $CORES workers, $NCHAN_URL"
  NCHAN_ARGS=(--target nchan --pub "$NCHAN_URL/pub?id={channel}" --sub "$NCHAN_URL/sub?id={channel}" --pid-tree "$NGINX_PID")
fi

# ---- Switchboard ----------------------------------------------------------------------------
SECRET="bench-secret-$(date +%s)-$RANDOM$RANDOM-0123456789abcdef"
if [ "$SB_NEEDED" = 1 ]; then
SPORT=$(free_port)
CPORT=$(free_port 3)
cat > "$WORK/switchboard.json" <<EOF
{
  "http": {"port": $SPORT, "host": "127.0.0.1"},
  "data": {"dir": "$WORK/sb-data"},
  "cluster": {"name": "sb-bench-$$-$RANDOM", "port": $CPORT, "members": ["127.0.0.1:$CPORT", "127.0.0.1:$((CPORT + 1))", "127.0.0.1:$((CPORT + 2))"]},
  "auth": {"jwtSecret": "$SECRET"},
  "limits": {"messagesPerSecond": 1000000, "messageBurst": 1000000, "commandsPerSecond": 1000000, "commandBurst": 1000000,
             "unauthenticatedPerIp": 0}
}
EOF
# shellcheck disable=SC2086
java $JAVA_NODE_OPTS -jar "$JAR" -conf "$WORK/switchboard.json" > "$WORK/switchboard.log" 2>&1 &
SB_PID=$!
SB_URL="http://127.0.0.1:$SPORT"
for i in $(seq 1 360); do
  kill -0 "$SB_PID" 2>/dev/null || { log "the Switchboard node exited:"; tail -20 "$WORK/switchboard.log" >&2; exit 1; }
  if listens "$SPORT" "$SB_PID" && curl -fsS "$SB_URL/api/health" >/dev/null 2>&1; then break; fi
  [ "$i" = 360 ] && { log "the Switchboard node did not start in 3 minutes"; exit 1; }
  sleep 0.5
done
PG_PORT=$(sed -n 4p "$WORK/sb-data/postgres/postmaster.pid")
PG_PID=$(sed -n 1p "$WORK/sb-data/postgres/postmaster.pid")
DB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
log "Switchboard: node $SB_PID on $SB_URL ($CORES event loops), PostgreSQL $PG_PID on port $PG_PORT"
SB_ARGS=(--target switchboard --url "$SB_URL" --pid "$SB_PID" --jwt-secret "$SECRET")
fi
log "results: $RESULTS"

# ---- scenarios ------------------------------------------------------------------------------
# One bench invocation; JSON lines to the results, human lines to the terminal and the log.
bench() {
  echo "run.sh: bench $*" | sed -e "s#$SECRET#***#" >&2
  # In the background and waited for, so that Ctrl-C or a TERM stops it and cleans up at once.
  # shellcheck disable=SC2086
  java $JAVA_BENCH_OPTS -jar "$JAR" bench "$@" --timeout "$TIMEOUT" >> "$RESULTS" 2> >(tee -a "$WORK/bench.log" >&2) &
  BENCH_PID=$!
  if ! wait "$BENCH_PID"; then
    log "that run failed (see above); going on"
  fi
  BENCH_PID=""
}
both() {   # scenario args...: against Switchboard, then Nchan
  bench "$@" "${SB_ARGS[@]}"
  if [ "$NCHAN" = 1 ]; then bench "$@" "${NCHAN_ARGS[@]}"; fi
}

if has fanout; then
  for t in ${FAN_TRANSPORTS//,/ }; do
    case "$t" in
      sockjs) bench fanout --transport sockjs --subscribers "$FAN_N" --messages "$FAN_M" "${SB_ARGS[@]}" ;;
      poll) both fanout --transport poll --subscribers "$FAN_N" --messages "$POLL_M" ;;
      *) both fanout --transport "$t" --subscribers "$FAN_N" --messages "$FAN_M" ;;
    esac
  done
fi
if has latency; then
  for t in sse ws; do both latency --transport "$t" --subscribers "$LAT_N" --messages "$LAT_M" --rate 20; done
fi
if has idle; then
  for t in ws sse; do both idle --transport "$t" --connections "$IDLE_N" --open-concurrency 128; done
fi
if has send; then
  bench send --senders "$SEND_S" --conversations "$SEND_C" --duration "$SEND_D" "${SB_ARGS[@]}"
  # The minimal SQL of a send against the same PostgreSQL: bump the conversation's seq and insert
  # the message, in one transaction, with the indexes the messages table has.
  PSQL=(psql -q -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  "${PSQL[@]}" <<EOF
DROP TABLE IF EXISTS bench_messages, bench_conversations;
CREATE TABLE bench_conversations (id int PRIMARY KEY, last_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE bench_messages (
  conversation_id int NOT NULL REFERENCES bench_conversations (id), seq bigint NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE, sender_id text NOT NULL, kind text NOT NULL DEFAULT 'text',
  content jsonb, client_message_id text, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq), UNIQUE (sender_id, client_message_id));
INSERT INTO bench_conversations SELECT g FROM generate_series(1, $SEND_C) g;
EOF
  cat > "$WORK/send.sql" <<EOF
\\set c random(1, $SEND_C)
BEGIN;
UPDATE bench_conversations SET last_seq = last_seq + 1 WHERE id = :c RETURNING last_seq AS seq \\gset
INSERT INTO bench_messages (conversation_id, seq, sender_id, content, client_message_id)
  VALUES (:c, :seq, 'u' || :client_id, '"@b:0:0;xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"', :client_id || '-' || :seq || '-' || :c);
COMMIT;
EOF
  log "pgbench: $SEND_S clients, $SEND_D s, the minimal SQL of a send"
  PGB=$(pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "$SEND_S" -j "$CORES" -T "$SEND_D" -f "$WORK/send.sql" postgres 2>&1) || true
  echo "$PGB" >> "$WORK/bench.log"
  TPS=$(echo "$PGB" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -1)
  if [ -n "$TPS" ]; then
    echo "{\"scenario\":\"pgbench\",\"target\":\"postgresql\",\"tps\":$TPS,\"clients\":$SEND_S,\"conversations\":$SEND_C,\"seconds\":$SEND_D}" >> "$RESULTS"
    log "pgbench: $TPS tps"
  else
    log "pgbench failed:"; echo "$PGB" | tail -5 >&2
  fi
  "${PSQL[@]}" -c "DROP TABLE IF EXISTS bench_messages, bench_conversations;" || true
fi
if has cluster; then
  bench cluster --transport sse --subscribers "$CL_N" --messages "$CL_M" --spawn 3 --db-url "$DB_URL" \
    --node-heap 1g --jwt-secret "$SECRET"
  # The same size on one node, for the cross-node ratio.
  has fanout && [ "$CL_N" = "$FAN_N" ] && [ "$CL_M" = "$FAN_M" ] || \
    bench fanout --transport sse --subscribers "$CL_N" --messages "$CL_M" "${SB_ARGS[@]}"
fi
if has storm; then
  bench storm --transport sse --clients "$STORM_N" --per-client 10 --group-size 100 "${SB_ARGS[@]}"
fi
if has failover; then
  bench failover --transport sse --clients "$FO_N" --nodes 2 --db-url "$DB_URL" --node-heap 1g --jwt-secret "$SECRET"
fi
if has soak; then
  # Its own three nodes and its own PostgreSQL (no --db-url): the nemesis restarts that database too.
  bench soak --duration $(( SOAK_MINUTES * 60 )) --nemesis-every "$SOAK_NEMESIS_SECONDS" --node-heap 1g
fi

log "done in $(( $(date +%s) - STARTED )) s; results in $RESULTS"
echo
java -jar "$JAR" bench report "$RESULTS"
