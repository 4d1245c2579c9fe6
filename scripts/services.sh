#!/usr/bin/env bash
# Start the real servers the tests use, on loopback only: RabbitMQ (broker) and a
# throwaway PostgreSQL cluster. Prints the export lines for their URLs.
# Usage: eval "$(bash scripts/services.sh)"; stop them with bash scripts/stop-services.sh
set -euo pipefail

# RabbitMQ: Debian's rabbitmq-server, started detached, awaited until it serves.
if command -v rabbitmq-server >/dev/null 2>&1; then
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    # epmd (Erlang's port mapper, started with the node) listens on loopback only too.
    export ERL_EPMD_ADDRESS=127.0.0.1
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 60); do
    rabbitmqctl -q await_startup >/dev/null 2>&1 && break
    sleep 2
  done
  if rabbitmqctl -q await_startup >/dev/null 2>&1; then
    echo "export ECGREAD_TEST_BROKER_URL=amqp://guest:guest@127.0.0.1:5672//"
  else
    echo "services: RabbitMQ did not start" >&2
  fi
fi

# PostgreSQL: a fresh cluster in /tmp on port 55432, owned by user postgres.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$pgbin" ] && [ -x "$pgbin/initdb" ]; then
  pgdata=/tmp/ecgread-pg
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if ! as_pg "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    rm -rf "$pgdata"; mkdir -p "$pgdata"
    [ "$(id -u)" = 0 ] && chown postgres "$pgdata"
    as_pg "$pgbin/initdb" -D "$pgdata" -U postgres -A trust >/dev/null
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w \
      -o "-p 55432 -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
  fi
  echo "export ECGREAD_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
fi
