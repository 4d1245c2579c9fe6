#!/usr/bin/env bash
# Set up ecgread on a fresh Debian 12 machine with Python 3.11:
# system packages (when run as root), then a virtual environment in .venv.
# Usage: bash scripts/setup.sh [extras]   (default extras: cpu,test,bench)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-cpu,test,bench}"

# Debian packages: DCMTK (test peers), RabbitMQ and PostgreSQL (scale-out, tests),
# poppler (pdftoppm/pdftotext), pango and harfbuzz-subset (weasyprint; without the latter it
# subsets fonts with fontTools, twice as slow), docker-compose (validates docker/), venv,
# chromium (the web tests drive it with Playwright; Playwright's own download is not used).
pkgs="dcmtk rabbitmq-server postgresql poppler-utils docker-compose libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core python3-venv chromium"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $missing >/dev/null
  else
    echo "setup: missing Debian packages:$missing (run as root or install them)" >&2
  fi
fi

py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null || py=python3
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[$extras]"
echo "setup: ready (.venv, extras: $extras)"
