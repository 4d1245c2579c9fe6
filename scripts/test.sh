#!/usr/bin/env bash
# Set up and run every test: system packages and .venv (scripts/setup.sh), then the real
# RabbitMQ and PostgreSQL servers (scripts/services.sh), then pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh cpu,test,bench,train
eval "$(bash scripts/services.sh)"
# tests/test_lint.py runs ruff and mypy (pinned in the test extra) as part of the suite.
exec .venv/bin/python -m pytest -q "$@"
