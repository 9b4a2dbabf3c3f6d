#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and RabbitMQ
# (127.0.0.1:5672, guest/guest) are up: starts them if stopped, installs them from Debian's
# packages if missing. Also makes sure python3 can import aiosmtpd, which deploy/smtp-sink.py
# (the SMTP sink of the quick start and the end-to-end tests) needs, installing it from PyPI
# for the current user if missing. Sourced by deploy/run.sh and deploy/test.sh; safe to run
# repeatedly.
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

AIOSMTPD=aiosmtpd==1.4.6

ensure_aiosmtpd() {
  if ! command -v python3 >/dev/null; then apt_install python3; fi
  python3 -c 'import aiosmtpd' 2>/dev/null && return 0
  if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
  echo "refroute: installing $AIOSMTPD for $(command -v python3) (pip --user)" >&2
  local out
  if ! out=$(python3 -m pip install --quiet --user "$AIOSMTPD" 2>&1); then
    # A distribution's own python3 (PEP 668) refuses --user installs unless told otherwise;
    # only aiosmtpd and its two small dependencies go into the user's site-packages.
    if grep -q externally-managed <<<"$out"; then
      out=$(python3 -m pip install --quiet --user --break-system-packages "$AIOSMTPD" 2>&1) || {
        echo "refroute: could not install $AIOSMTPD with pip:" >&2
        echo "$out" >&2
        return 1
      }
    else
      echo "refroute: could not install $AIOSMTPD with pip:" >&2
      echo "$out" >&2
      return 1
    fi
  fi
  python3 -c 'import aiosmtpd' 2>/dev/null || {
    echo "refroute: pip installed $AIOSMTPD but $(command -v python3) still cannot import it" \
      "(is its user site-packages disabled, e.g. PYTHONNOUSERSITE?)" >&2
    return 1
  }
}

ensure_postgres
ensure_rabbitmq
ensure_aiosmtpd
