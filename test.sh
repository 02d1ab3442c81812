#!/usr/bin/env bash
# The whole mica test suite, from a fresh Debian 12 machine (as root):
# installs what it needs from Debian's packages, builds, runs every tier.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
exec tests/run "$@"
