#!/usr/bin/env bash
# Sets up and runs mica's main job: boots a demo VM (Debian's stock cloud
# kernel and a busybox initramfs) to a shell on this terminal. Run as root on
# Debian 12. Where this machine's /dev/kvm cannot run a stock kernel (see
# tests/nested/README.md), the VM runs inside a nested KVM host under QEMU's
# emulator, and the script says so.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
make -s -j2 build/mica
exec tests/nested/demo "$@"
