#!/usr/bin/env bash
# Quick start: runs all four refroute services against this machine's PostgreSQL and RabbitMQ,
# then the demo, which posts a handful of referrals and prints where each one went and why.
# The services keep running until Ctrl-C. With --exit-after-demo they stop after the demo.
set -euo pipefail
trap 'echo "deploy/run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
exit_after_demo=0
[ "${1:-}" = "--exit-after-demo" ] && exit_after_demo=1

# A development deployment: it runs with the public development keys of config/default.toml,
# which any other deployment refuses (README, "Configuration").
export REFROUTE__DEPLOYMENT__DEVELOPMENT=true

bash deploy/ensure-services.sh
cargo build --quiet --bins
bin=${CARGO_TARGET_DIR:-target}/debug
logs=.refroute/logs
mkdir -p "$logs"

"$bin/refroute" migrate
# Each service logs in to PostgreSQL as its own role (derived from database.url) and to RabbitMQ
# as its own user, allowed its own queues only: these create the users and export the logins.
eval "$("$bin/refroute" broker-users)"
# They may declare only their own queues, so the whole topology is declared first, as amqp.uri's
# user: an event published before its consumer's queue existed would be lost to that consumer.
"$bin/refroute" declare-topology

# Mutual TLS: a development CA, certificates for the services and each demo organisation, and
# the organisations file, in .refroute/dev-pki/ (its README.md names every file). Kept across
# runs so certificates handed to grpcurl stay valid; `refroute dev-pki --fresh` remakes them.
pki=.refroute/dev-pki
"$bin/refroute" dev-pki --pki "$pki"
export REFROUTE__TLS__CA_FILE=$pki/ca.pem
export REFROUTE__TLS__CERT_FILE=$pki/server.pem
export REFROUTE__TLS__KEY_FILE=$pki/server.key
export REFROUTE__ACCESS__ORGANISATIONS_FILE=$pki/organisations.toml
# The CLI's own calls (health) go as the operator.
export REFROUTE__CLIENT__CERT_FILE=$pki/refroute-operations.pem
export REFROUTE__CLIENT__KEY_FILE=$pki/refroute-operations.key

# Mail goes to a local sink that keeps every message in .refroute/mail/messages.jsonl and
# sends none on (deploy/smtp-sink.py), over STARTTLS with the development server certificate.
# The directory file gives Hackney's contacts addresses (deploy/examples/directory.toml).
mkdir -p .refroute/mail
export REFROUTE__DELIVERY__EMAIL__HOST=localhost
export REFROUTE__DELIVERY__EMAIL__PORT=${REFROUTE_SMTP_PORT:-2525}
export REFROUTE__DELIVERY__EMAIL__TLS=starttls
export REFROUTE__DELIVERY__EMAIL__CA_FILE=$pki/ca.pem
export REFROUTE__DIRECTORY__FILE=deploy/examples/directory.toml

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT

python3 deploy/smtp-sink.py --port "$REFROUTE__DELIVERY__EMAIL__PORT" \
  --out .refroute/mail/messages.jsonl --cert "$pki/server.pem" --key "$pki/server.key" \
  --require-starttls >"$logs/smtp-sink.log" 2>&1 &
pids+=($!)
for svc in intake triage transfer notification; do
  "$bin/refroute-$svc" >"$logs/$svc.log" 2>&1 &
  pids+=($!)
done
echo "services starting; logs in $logs/"
"$bin/refroute" health --wait 60
echo
"$bin/refroute" demo --pki "$pki"

if [ "$exit_after_demo" = 0 ]; then
  echo
  echo "refroute is running (intake on 127.0.0.1:50051, coordinators on 127.0.0.1:50054). Ctrl-C stops it."
  echo "Try (in another terminal): target/debug/refroute --as city-marac queue E09000001 --watch"
  echo "The certificates are in $pki/ (see its README.md). Mail sent: .refroute/mail/messages.jsonl"
  wait
fi
