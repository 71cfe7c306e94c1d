#!/usr/bin/env bash
# The unet command from a checkout: installs prerequisites once, then runs the CLI (Release build).
#   bash scripts/unet.sh train            # the default job: train U-Net on the bundled ISBI 2012 data
#   bash scripts/unet.sh predict --checkpoint runs/<run> --input <image or folder> --out <folder>
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Let glibc back large allocations with transparent huge pages: fresh 10-100 MB buffers are page-faulted in on
# every training step otherwise (measured 12% more tiles/s for the default run; bench/README.md).
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
exec dotnet run --project src/Client -c Release -- "$@"
