#!/usr/bin/env bash
# Fuzzes the wire parse and the rules (services/wire/fuzz, libFuzzer) for SECONDS (default 60):
# arbitrary bytes never panic, and every referral the parse accepts is decided. New inputs go to
# a scratch corpus; with --keep they are merged into the repository's corpus afterwards.
#   bash deploy/fuzz.sh            # a minute, as CI runs it
#   bash deploy/fuzz.sh 3600 --keep
set -euo pipefail
trap 'echo "deploy/fuzz.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
seconds=${1:-60}
keep=${2:-}

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz needs -Z flags; the stable toolchain takes them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
cd services/wire/fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Unoptimised: it builds in a fraction of the time and still runs thousands of inputs a second.
cargo fuzz build --dev parse_and_decide
cargo fuzz run --dev parse_and_decide "$scratch" corpus/parse_and_decide -- \
  -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 -print_funcs=0
if [ "$keep" = "--keep" ]; then
  cargo fuzz cmin --dev parse_and_decide corpus/parse_and_decide
  cargo fuzz run --dev parse_and_decide corpus/parse_and_decide "$scratch" -- -merge=1
fi
