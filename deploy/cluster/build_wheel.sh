#!/usr/bin/env bash
# Build the postmix wheel that spark-submit ships to executors (--py-files, or installed into a packed venv), and
# check that it carries the package data executors read: every declared table schema and the bundled models.
#   deploy/cluster/build_wheel.sh [OUT_DIR]      (default dist/; prints the wheel's path)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$repo/dist}"
python="${PYTHON:-$repo/.venv/bin/python}"
mkdir -p "$out"
rm -f "$out"/postmix-*.whl
# No build isolation: setuptools comes from the project venv, so no index is needed at build time.
"$python" -m pip wheel --quiet --no-deps --no-build-isolation "$repo" -w "$out"
wheel="$(ls "$out"/postmix-*.whl)"
listing="$(unzip -l "$wheel")"
missing=0
require() {  # require FILE_IN_CHECKOUT PATH_IN_WHEEL
  if ! grep -q " $2\$" <<<"$listing"; then
    echo "missing in wheel: $2 (from $1)" >&2
    missing=1
  fi
}
for file in "$repo"/schemas/*.json; do require "$file" "postmix/schemas/$(basename "$file")"; done
for file in "$repo"/lib/postmix/annotate/models/*; do require "$file" "postmix/annotate/models/$(basename "$file")"; done
if [ "$missing" != 0 ]; then
  echo "$wheel lacks package data that executors need (see pyproject.toml [tool.setuptools])" >&2
  exit 1
fi
echo "$wheel"
