#!/usr/bin/env bash
# Benchmark: release build of all four services in an isolated database and virtual host on
# spare ports, `refroute bench` against them, then each service's peak memory (VmHWM).
# Usage: deploy/bench.sh [referrals] [concurrency]
set -euo pipefail
trap 'echo "deploy/bench.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
referrals=${1:-1000}
concurrency=${2:-16}

bash deploy/ensure-services.sh
cargo build --quiet --release --bins
bin=${CARGO_TARGET_DIR:-target}/release
logs=.refroute/bench-logs
mkdir -p "$logs"

rabbitmqctl delete_vhost refroute-bench >/dev/null 2>&1 || true
rabbitmqctl add_vhost refroute-bench >/dev/null
rabbitmqctl set_permissions -p refroute-bench guest '.*' '.*' '.*' >/dev/null
psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS refroute_bench WITH (FORCE)'
export REFROUTE__DATABASE__URL=postgres://postgres@127.0.0.1:5432/refroute_bench
export REFROUTE__AMQP__URI=amqp://guest:guest@127.0.0.1:5672/refroute-bench
export REFROUTE__TELEMETRY__FILTER=warn
# Throwaway data under the public development keys.
export REFROUTE__DEPLOYMENT__DEVELOPMENT=true
export REFROUTE__INTAKE__GRPC_ADDR=127.0.0.1:22051
export REFROUTE__TRIAGE__GRPC_ADDR=127.0.0.1:22052
export REFROUTE__TRANSFER__GRPC_ADDR=127.0.0.1:22053
export REFROUTE__NOTIFICATION__GRPC_ADDR=127.0.0.1:22054
for svc in INTAKE TRIAGE TRANSFER NOTIFICATION; do export "REFROUTE__${svc}__METRICS_ADDR=127.0.0.1:0"; done
"$bin/refroute" migrate >/dev/null
# Mutual TLS as in the quick start: the development PKI, its organisations file, and the CLI
# calling as the operator (health) and, for the benchmark, as the City's police and MARAC.
pki=.refroute/dev-pki
"$bin/refroute" dev-pki --pki "$pki" >/dev/null
export REFROUTE__TLS__CA_FILE=$pki/ca.pem
export REFROUTE__TLS__CERT_FILE=$pki/server.pem
export REFROUTE__TLS__KEY_FILE=$pki/server.key
export REFROUTE__ACCESS__ORGANISATIONS_FILE=$pki/organisations.toml
export REFROUTE__CLIENT__CERT_FILE=$pki/refroute-operations.pem
export REFROUTE__CLIENT__KEY_FILE=$pki/refroute-operations.key

# Notifications are sent as in the quick start: each routed case tells the City's MARAC and the
# police by email, over STARTTLS to the local sink (it keeps them in $logs/mail.jsonl).
export REFROUTE__DELIVERY__EMAIL__HOST=localhost
export REFROUTE__DELIVERY__EMAIL__PORT=22525
export REFROUTE__DELIVERY__EMAIL__CA_FILE=$pki/ca.pem
rm -f "$logs/mail.jsonl"

declare -A pids
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rabbitmqctl delete_vhost refroute-bench >/dev/null 2>&1 || true
  psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS refroute_bench WITH (FORCE)' || true
}
trap cleanup EXIT
python3 deploy/smtp-sink.py --port 22525 --out "$logs/mail.jsonl" --cert "$pki/server.pem" \
  --key "$pki/server.key" --require-starttls >"$logs/smtp-sink.log" 2>&1 &
pids[smtp-sink]=$!
for svc in intake triage transfer notification; do
  "$bin/refroute-$svc" >"$logs/$svc.log" 2>&1 &
  pids[$svc]=$!
done
"$bin/refroute" health --wait 60 >/dev/null

echo "refroute bench: $referrals referrals, $concurrency concurrent clients, release build, $(nproc) cores"
"$bin/refroute" bench --pki "$pki" --referrals "$referrals" --concurrency "$concurrency"
# The notifications of the run, once sent (or after 120 s).
for _ in $(seq 1 120); do
  sent=$(psql -h 127.0.0.1 -U postgres -d refroute_bench -tAc \
    "SELECT count(*) FILTER (WHERE state = 'SENT') || ' of ' || count(*) FROM notification.deliveries")
  [ "${sent%% of *}" = "${sent##* of }" ] && break
  sleep 1
done
echo "notifications sent:     $sent (email over STARTTLS to the local sink)"
echo "peak resident memory (VmHWM):"
for svc in intake triage transfer notification; do
  printf '  %-13s %s\n' "$svc" "$(awk '/VmHWM/ {print $2, $3}' "/proc/${pids[$svc]}/status")"
done
echo
echo "postcode resolution (the table triage loads at start, measured in process):"
"$bin/refroute" bench-postcodes
