#!/usr/bin/env bash
# The test command: makes sure PostgreSQL and RabbitMQ are up (starting or installing them),
# runs every unit and end-to-end test, then runs the quick start once in an isolated database
# on spare ports to show it works from a clean start.
set -euo pipefail
trap 'echo "deploy/test.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

bash deploy/ensure-services.sh

# Databases and virtual hosts left by interrupted earlier runs.
psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'refroute_test_%' OR datname = 'refroute_smoke'" |
  while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done
# (grep finding nothing is the usual case, not an error)
rabbitmqctl list_vhosts -q 2>/dev/null | { grep -E '^refroute-(test|smoke)' || true; } | while read -r vhost; do
  rabbitmqctl delete_vhost "$vhost" >/dev/null
done
rabbitmqctl list_users -q 2>/dev/null | { grep -E '^refroute-test-' || true; } | cut -f1 | while read -r user; do
  rabbitmqctl delete_user "$user" >/dev/null
done
# Each test process makes its own development PKI (tests/src/lib.rs `pki`).
rm -rf "${TMPDIR:-/tmp}"/refroute-test-pki-*

# The fault tests SIGKILL the real service binaries.
cargo build --bins

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace
else
  cargo test --workspace
fi

echo "== quick start smoke run (deploy/run.sh --exit-after-demo) =="
# Ports below the kernel's ephemeral range, so no client socket of the tests can hold them.
rabbitmqctl add_vhost refroute-smoke >/dev/null
rabbitmqctl set_permissions -p refroute-smoke guest '.*' '.*' '.*' >/dev/null
export REFROUTE__DATABASE__URL=postgres://postgres@127.0.0.1:5432/refroute_smoke
export REFROUTE__AMQP__URI=amqp://guest:guest@127.0.0.1:5672/refroute-smoke
export REFROUTE__INTAKE__GRPC_ADDR=127.0.0.1:21051
export REFROUTE__TRIAGE__GRPC_ADDR=127.0.0.1:21052
export REFROUTE__TRANSFER__GRPC_ADDR=127.0.0.1:21053
export REFROUTE__NOTIFICATION__GRPC_ADDR=127.0.0.1:21054
for svc in INTAKE TRIAGE TRANSFER NOTIFICATION; do export "REFROUTE__${svc}__METRICS_ADDR=127.0.0.1:0"; done
bash deploy/run.sh --exit-after-demo
rabbitmqctl delete_vhost refroute-smoke >/dev/null
psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE refroute_smoke WITH (FORCE)'
echo "quick start smoke run: ok"
