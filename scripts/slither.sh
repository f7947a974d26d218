#!/usr/bin/env bash
# Runs Slither 0.11.6 (its own venv, .venv-slither, pinned by requirements/slither.lock) over
# contracts/. Exit 0 when every finding is accepted in slither.db.json (or its detector is
# excluded in slither.config.json), non-zero when a new one appears. docs/slither.md lists
# every accepted finding and why.
#
#   scripts/slither.sh            # analyse (make slither)
#   scripts/slither.sh --triage   # interactive: accept reviewed findings into slither.db.json
#                                 # (then add a row for each to docs/slither.md)
#
# How it compiles: foundry.toml makes crytic-compile treat the repository as a Foundry project,
# so it runs `forge clean`, `forge config --json` and `forge build --build-info contracts`
# (the same shim compiler and settings as forge test; --solc/--solc-args would be ignored).
# forge must be on PATH, and gets its own out/cache here so that `forge clean` does not wipe
# the forge test build in .forge/out.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv-slither"
lock="$root/requirements/slither.lock"
stamp="$venv/.attestia-installed"
if [[ ! -f "$stamp" || "$lock" -nt "$stamp" ]]; then
    python="${PYTHON:-python3}"
    [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$lock"
    touch "$stamp"
fi

forge_bin="$root/node_modules/@foundry-rs/forge-linux-amd64/bin"
if [[ ! -x "$forge_bin/forge" ]]; then
    echo "slither: error: $forge_bin/forge is missing; run 'make setup' (npm ci installs @foundry-rs/forge)" >&2
    exit 2
fi
export PATH="$forge_bin:$venv/bin:$PATH"
export FOUNDRY_OUT=.forge/slither/out FOUNDRY_CACHE_PATH=.forge/slither/cache

args=(contracts)
if [[ "${1:-}" == "--triage" ]]; then
    shift
    args+=(--triage-mode)
fi

start=$(date +%s%N)
status=0
# slither.config.json (read from the working directory): excluded detectors, filtered paths and
# the triage database.
slither "${args[@]}" "$@" || status=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [[ $status -eq 0 ]]; then
    result="no unaccepted finding"
else
    result="FAILED (exit $status): unaccepted findings or an error above; fix the code, or triage (--triage) and add a row to docs/slither.md"
fi
printf 'slither: %s, wall time %d.%d s\n' "$result" $((ms / 1000)) $((ms % 1000 / 100))
exit "$status"
