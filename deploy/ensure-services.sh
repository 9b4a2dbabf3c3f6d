#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and RabbitMQ
# (127.0.0.1:5672, guest/guest) are up: starts them if stopped, installs them from Debian's
# packages if missing. Sourced by deploy/run.sh and deploy/test.sh; safe to run repeatedly.
set -euo pipefail
trap 'echo "deploy/ensure-services.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done
  echo "refroute: $3 did not come up on 127.0.0.1:$1 within $2 s" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "refroute: $* is missing; install it (as root: apt-get install -y $*)" >&2
    return 1
  fi
  echo "refroute: installing $* from Debian packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  port_open 5432 && return 0
  local fresh=0
  if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql; fresh=1; fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  if [ "$fresh" = 1 ]; then
    # A fresh Debian cluster asks for passwords on TCP; refroute's development setup trusts loopback.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432 30 PostgreSQL
}

ensure_rabbitmq() {
  port_open 5672 && return 0
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  rabbitmq-server -detached || true
  wait_port 5672 90 RabbitMQ
  rabbitmqctl await_startup >/dev/null 2>&1 || true
}

ensure_postgres
ensure_rabbitmq
