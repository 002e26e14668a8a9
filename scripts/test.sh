#!/usr/bin/env bash
# Run the whole test suite: lint, types, security scan, then pytest with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check jarvis tests scripts
echo "== mypy (strict on jarvis/)"
mypy
echo "== bandit"
bandit -q -c pyproject.toml -r jarvis
echo "== pytest"
status=0
pytest --cov --cov-report=term "$@" || status=$?
# pytest exits with 5 when it collected no tests: that is a failure here too.
if [[ $status -eq 5 ]]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit $status
