#!/usr/bin/env bash
# Installs the optional developer tools into ./.venv (nothing system-wide):
#   cargo-lambda (from PyPI; brings Zig for cross-compiling to arm64)
# Usage: scripts/install-dev-tools.sh && export PATH="$PWD/.venv/bin:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet "cargo-lambda>=1.9,<2"
PATH="$PWD/.venv/bin:$PATH" cargo lambda --version
echo "add it to PATH: export PATH=\"$PWD/.venv/bin:\$PATH\""
