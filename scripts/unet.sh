#!/usr/bin/env bash
# The unet command from a checkout: installs prerequisites once, then runs the CLI (Release build).
#   bash scripts/unet.sh train            # the default job: train U-Net on the bundled ISBI 2012 data
#   bash scripts/unet.sh predict --checkpoint runs/<run> --input <image or folder> --out <folder>
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec dotnet run --project src/Client -c Release -- "$@"
