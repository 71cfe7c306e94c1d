#!/usr/bin/env bash
# The unet command from a checkout: installs prerequisites once, then runs the CLI (Release build).
#   bash scripts/unet.sh train            # the default job: train U-Net on the bundled ISBI 2012 data
#   bash scripts/unet.sh predict --checkpoint runs/<run> --input <image or folder> --out <folder>
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh main
# Let glibc back large allocations with transparent huge pages, and give every thread its main arena: fresh 10-100 MB
# buffers are page-faulted in on every training step otherwise, most of all from the silo's torch thread, whose own
# arena is trimmed and grown again each step (bench/README.md: "Environment notes", "Sync overhead").
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1}"
exec dotnet run --project src/Client -c Release -- "$@"
