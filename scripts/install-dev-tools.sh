#!/usr/bin/env bash
# Installs the developer and CI tools into ./.venv (nothing system-wide), from PyPI:
#   cargo-lambda   builds the Lambda zips (brings Zig for cross-compiling to arm64)
#   moto[server]   a local AWS (SQS, EventBridge) for the `sqs::` tests of the emulator
#   checkov        static checks of infra/terraform (run offline with --skip-download)
# Idempotent: when .venv already holds these exact requirements it returns at once.
# Usage: scripts/install-dev-tools.sh && export PATH="$PWD/.venv/bin:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."

REQUIREMENTS=(
  "cargo-lambda>=1.9,<2"
  "moto[server]>=5.1,<6"
  "checkov>=3.2,<4"
)
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
