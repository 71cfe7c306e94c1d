#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine with the .NET 10 SDK lacks, only what is missing. NuGet packages come with
# 'dotnet restore'.
#   bash scripts/setup.sh main    what the main job (scripts/unet.sh) needs: the build's TorchSharp fix-up only
#   bash scripts/setup.sh tests   that, plus what the tests need (scripts/test.sh); the default
# The main job needs:
#   patchelf, gcc, python3: the build's TorchSharp fix-up (build/patch-libtorchsharp.sh)
# The tests also need:
#   redis-server: Orleans membership for the multi-process cluster tests (tests/UNetCluster.EndToEnd.Tests)
#   python3-torch: PyTorch (1.13 on Debian 12) for /usr/bin/python3, which checks that PyTorch loads our safetensors
#     (tests/UNetCluster.Model.Tests/Python/unet_reference.py)
#   nodejs, npm + tools/azurite (npm ci): the Azure Storage emulator for the Blob and Table tests
#   tools/k8s-validate (npm ci): the Kubernetes API schema validator of the deployment tests (tests/UNetCluster.Deploy.Tests)
#   kubectl (with kustomize): renders deploy/k8s for the deployment tests; Debian has no package, so it must be installed
#     by hand (https://kubernetes.io/docs/tasks/tools/); the tests fail naming it when it is missing
#   chromium, chromium-driver: the dashboard's and report's browser tests (tests/UNetCluster.Ops.Tests), headless
set -euo pipefail

scope=${1:-tests}
case "$scope" in
  main|tests) ;;
  *) echo "setup: unknown scope '$scope'; accepted: main (what scripts/unet.sh needs), tests (what scripts/test.sh needs)" >&2; exit 2 ;;
esac

missing=()
command -v patchelf >/dev/null || missing+=(patchelf)
command -v cc >/dev/null || missing+=(gcc)
command -v python3 >/dev/null || missing+=(python3)
if [ "$scope" = tests ]; then
  [ -x /usr/bin/redis-server ] || command -v redis-server >/dev/null || missing+=(redis-server)
  /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ "$scope" = tests ] || exit 0

# Azurite, pinned by tools/azurite/package-lock.json; installed only when missing.
azurite_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/azurite"
if [ ! -x "$azurite_dir/node_modules/.bin/azurite-blob" ]; then
  echo "setup: installing Azurite (npm ci in tools/azurite)"
  (cd "$azurite_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The Kubernetes manifest validator, pinned by tools/k8s-validate/package-lock.json; installed only when missing.
validate_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/k8s-validate"
if [ ! -d "$validate_dir/node_modules/kubernetes-models" ]; then
  echo "setup: installing the Kubernetes schema validator (npm ci in tools/k8s-validate)"
  (cd "$validate_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
command -v kubectl >/dev/null || echo "setup: kubectl is not installed: the deployment tests (tests/UNetCluster.Deploy.Tests) will fail" >&2
