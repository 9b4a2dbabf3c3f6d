#!/usr/bin/env bash
# Quick start: runs all four refroute services against this machine's PostgreSQL and RabbitMQ,
# then the demo, which posts a handful of referrals and prints where each one went and why.
# The services keep running until Ctrl-C. With --exit-after-demo they stop after the demo.
set -euo pipefail
trap 'echo "deploy/run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
exit_after_demo=0
[ "${1:-}" = "--exit-after-demo" ] && exit_after_demo=1

bash deploy/ensure-services.sh
cargo build --quiet --bins
bin=${CARGO_TARGET_DIR:-target}/debug
logs=.refroute/logs
mkdir -p "$logs"

"$bin/refroute" migrate
# Each service logs in to PostgreSQL as its own role (derived from database.url) and to RabbitMQ
# as its own user, allowed its own queues only: these create the users and export the logins.
eval "$("$bin/refroute" broker-users)"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT

for svc in intake triage transfer notification; do
  "$bin/refroute-$svc" >"$logs/$svc.log" 2>&1 &
  pids+=($!)
done
echo "services starting; logs in $logs/"
"$bin/refroute" health --wait 60
echo
"$bin/refroute" demo

if [ "$exit_after_demo" = 0 ]; then
  echo
  echo "refroute is running (intake on 127.0.0.1:50051, coordinators on 127.0.0.1:50054). Ctrl-C stops it."
  echo "Try: target/debug/refroute queue E09000001 --watch   (in another terminal)"
  wait
fi
