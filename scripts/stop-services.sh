#!/usr/bin/env bash
# Stop the test servers scripts/services.sh started: RabbitMQ (and its epmd) and the
# throwaway PostgreSQL cluster in /tmp/ecgread-pg. Safe to run when they are not running.
set -uo pipefail
if command -v rabbitmqctl >/dev/null 2>&1 && rabbitmqctl -q status >/dev/null 2>&1; then
  rabbitmqctl -q stop >/dev/null 2>&1 && echo "stopped RabbitMQ"
fi
command -v epmd >/dev/null 2>&1 && epmd -kill >/dev/null 2>&1 || true
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
pgdata=/tmp/ecgread-pg
if [ -n "$pgbin" ] && [ -d "$pgdata" ]; then
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  as_pg "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1 \
    && as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null && echo "stopped PostgreSQL"
fi
exit 0
