#!/usr/bin/env bash
# Installs the developer and CI tools into ./.venv (nothing system-wide), from PyPI:
#   cargo-lambda   builds the Lambda zips (brings Zig for cross-compiling to arm64)
#   moto[server]   a local AWS (SQS, EventBridge) for the `sqs::` tests of the emulator
#   checkov        static checks of infra/terraform (run offline with --skip-download)
# and, from Debian's archive with apt-get when missing, the headless browser the dashboard's
# browser tests drive: chromium and chromium-driver (chromedriver); and promtool (Debian's
# `prometheus` package), which checks and unit-tests the generated alerting rules in dapr/prometheus/.
# Idempotent: when .venv already holds these exact requirements it returns at once.
# Usage: scripts/install-dev-tools.sh && export PATH="$PWD/.venv/bin:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."

REQUIREMENTS=(
  "cargo-lambda>=1.9,<2"
  "moto[server]>=5.1,<6"
  "checkov>=3.2,<4"
)
# Debian packages, installed with apt-get when their command is missing (quick when present).
SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO="sudo"
APT_UPDATED=""
apt_install() {
  if [[ -z "$APT_UPDATED" ]]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  # RUNLEVEL=1: invoke-rc.d starts no service a package ships (the prometheus daemon) on install.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
# The dashboard's browser tests: chromium + chromedriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt_install chromium chromium-driver
    chromium --version
    chromedriver --version
  else
    echo "chromium and chromedriver are missing and apt-get is not available: install them by hand" >&2
  fi
fi
# The alerting rules' checks (`promtool check rules`, `promtool test rules`): promtool comes
# with Debian's prometheus package.
if ! command -v promtool >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt_install prometheus
    promtool --version
  else
    echo "promtool is missing and apt-get is not available: install Prometheus's promtool by hand" >&2
  fi
fi

STAMP=.venv/.dev-tools
WANTED="$(printf '%s\n' "${REQUIREMENTS[@]}")"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANTED" ]] \
  && [[ -x .venv/bin/cargo-lambda && -x .venv/bin/moto_server && -x .venv/bin/checkov ]]; then
  echo "dev tools already installed in .venv"
  exit 0
fi

[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
PATH="$PWD/.venv/bin:$PATH" cargo lambda --version
.venv/bin/moto_server --help >/dev/null
.venv/bin/checkov --version
printf '%s' "$WANTED" >"$STAMP"
echo "add them to PATH: export PATH=\"$PWD/.venv/bin:\$PATH\""
