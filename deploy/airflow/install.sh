#!/usr/bin/env bash
# Build the Airflow virtual environment: deploy/airflow/install.sh [VENV] (default .venv-airflow).
# Pinned by requirements.txt + constraints.txt; pip's cache makes a rebuild quick. Marks success with VENV/.installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-.venv-airflow}"
python="${PYTHON:-python3.11}"
test -x "$venv/bin/python" || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" -c "$here/constraints.txt"
touch "$venv/.installed"
