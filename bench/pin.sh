#!/usr/bin/env bash
# Write constraints.txt from the project's venv: every installed package pinned by name and version (no URLs, no
# local version labels: torch==2.13.0 matches the CPU wheel; names normalized as PEP 503 says), convrec itself left out.
# Run after a deliberate upgrade, then run ./test; commit both together.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
{
  echo "# Versions the test suite last passed with; bootstrap.sh installs with -c constraints.txt. Regenerate: bench/pin.sh"
  "${CONVREC_VENV:-$root/.venv}/bin/python" -m pip list --format=freeze --exclude-editable \
    | grep -v -i '^convrec==' | sed -E 's/\+[A-Za-z0-9.]+$//' \
    | awk -F'==' '{ name = tolower($1); gsub(/[_.]+/, "-", name); print name "==" $2 }' | sort
} > "$root/constraints.txt"
echo "wrote $root/constraints.txt ($(grep -vc '^#' "$root/constraints.txt") packages)"
