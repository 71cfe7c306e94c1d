#!/usr/bin/env bash
# For GPU owners (README.md, "Running on GPUs"): the same training on a CUDA device and on the CPU, from one seed,
# side by side. It builds `unet` with -p:UNetGpu=true (TorchSharp-cuda-linux instead of TorchSharp-cpu) into its own
# artifacts folder, trains --steps steps with --device cuda:N, then the same steps with --device cpu from the same
# binary and seed, and prints per run: the last step's loss, the smoothed loss, the validation pixel error
# (metrics.json), training seconds per step, the process's RSS, and for the CUDA run the GPU's memory in use
# (nvidia-smi, sampled every 0.5 s: peak above what was in use before the run).
#
# NOT RUN YET: the machine this project is developed on has no GPU, and its package registry does not serve
# TorchSharp-cuda-linux, so the UNetGpu build cannot even be restored there. Checked there: bash -n, shellcheck, the
# --artifacts-path build and its unet with the CPU package, and the comparison step on two CPU run folders.
#
# The two runs are not bit-identical: cuDNN picks its own convolution algorithms and summation order, and uses TF32
# on Ampere and newer GPUs by libtorch's default; after 50 Adam steps the losses drift apart a little. The script
# exits 1 when the smoothed loss differs by more than --loss-tolerance (relative, default 0.05) or the validation
# pixel error by more than --pixel-tolerance (absolute, default 0.02).
#
# usage: bench/gpu/compare.sh [--steps 50] [--seed 42] [--preset quick] [--precision fp32|bf16] [--gpu 0]
#                             [--loss-tolerance 0.05] [--pixel-tolerance 0.02] [--out bench/gpu/out]
#   --gpu        the GPU index, as nvidia-smi numbers it (CUDA_DEVICE_ORDER=PCI_BUS_ID makes libtorch agree)
#   --precision  both runs in this precision (bf16 needs a GPU with bf16 support: Ampere or newer)
#   --out        build artifacts, the two run folders (cuda/, cpu/) and the nvidia-smi samples
# Needs: the .NET SDK of global.json, an NVIDIA driver with nvidia-smi, python3 (reads the runs' JSON).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
steps=50
seed=42
preset=quick
precision=fp32
gpu=0
loss_tolerance=0.05
pixel_tolerance=0.02
out="$root/bench/gpu/out"

usage() { sed -n '18,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps=${2:?--steps needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --preset) preset=${2:?--preset needs a value}; shift 2 ;;
    --precision) precision=${2:?--precision needs a value}; shift 2 ;;
    --gpu) gpu=${2:?--gpu needs a value}; shift 2 ;;
    --loss-tolerance) loss_tolerance=${2:?--loss-tolerance needs a value}; shift 2 ;;
    --pixel-tolerance) pixel_tolerance=${2:?--pixel-tolerance needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "Unknown option '$1'." >&2; usage ;;
  esac
done

for tool in dotnet nvidia-smi python3; do
  command -v "$tool" >/dev/null || { echo "$tool is not on PATH: this script needs the .NET SDK, an NVIDIA driver and python3." >&2; exit 2; }
done
export CUDA_DEVICE_ORDER=PCI_BUS_ID   # libtorch's cuda:N is then nvidia-smi's GPU N
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader -i "$gpu" >&2 \
  || { echo "nvidia-smi sees no GPU $gpu." >&2; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "Building unet with -p:UNetGpu=true into $out/artifacts ..." >&2
# Its own artifacts folder: the CUDA package's restore and native libraries never mix with the default CPU build's.
dotnet build "$root/src/Client" -c Release -p:UNetGpu=true --artifacts-path "$out/artifacts" -v quiet -nologo >&2
unet=$(find "$out/artifacts/bin" -type f -name unet -perm -u+x | head -n 1)
[[ -n "$unet" ]] || { echo "The build wrote no unet executable under $out/artifacts/bin." >&2; exit 1; }

train() { # train <device> <run folder>: one run of unet train, its seconds on stdout
  local device=$1 run=$2 started
  rm -rf "$run"
  started=$(date +%s%N)
  "$unet" train --preset "$preset" --steps "$steps" --seed "$seed" --precision "$precision" --device "$device" --out "$run" >"$run.log" 2>&1 \
    || { echo "unet train --device $device failed; its output is in $run.log:" >&2; tail -n 20 "$run.log" >&2; exit 1; }
  awk -v ns=$(( $(date +%s%N) - started )) 'BEGIN { printf "%.1f\n", ns / 1e9 }'
}

gpu_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "$gpu"; }

echo "Training $steps steps on cuda:$gpu ($precision, preset $preset, seed $seed) ..." >&2
baseline=$(gpu_used)
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "$gpu" -lms 500 >"$out/gpu-memory.csv" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT
cuda_seconds=$(train "cuda:$gpu" "$out/cuda")
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
echo "Training $steps steps on the CPU from the same seed (much slower) ..." >&2
cpu_seconds=$(train cpu "$out/cpu")

python3 - "$out" "$baseline" "$cuda_seconds" "$cpu_seconds" "$loss_tolerance" "$pixel_tolerance" <<'PY'
import glob, json, sys

out, baseline, cuda_seconds, cpu_seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
loss_tolerance, pixel_tolerance = float(sys.argv[5]), float(sys.argv[6])

def run(name):
    folder = f"{out}/{name}"
    status = json.load(open(glob.glob(f"{folder}/jobs/*/record.json")[0]))["status"]
    metrics = json.load(open(f"{folder}/metrics.json"))
    batch = json.load(open(f"{folder}/run.json"))["options"]["batchSize"]
    return {
        "compute": ", ".join(status.get("workerCompute") or ["?"]),
        "loss": status["loss"],
        "smoothed": status["smoothedLoss"],
        "pixel": metrics["mean"]["pixelError"],
        "step_s": batch / max(status["tilesPerSecond"], 1e-9),   # the training rate: validations left out (status elapsed is wall time)
        "rss_mib": max(status.get("workerMemoryBytes") or [0]) / 2**20,
    }

cuda, cpu = run("cuda"), run("cpu")
samples = [float(line) for line in open(f"{out}/gpu-memory.csv") if line.strip()]
peak = max(samples, default=baseline) - baseline
print("| run | computes in | last loss | smoothed loss | pixel error | s/step (training) | wall s | RSS MiB | GPU MiB (peak) |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| cuda | {cuda['compute']} | {cuda['loss']:.4f} | {cuda['smoothed']:.4f} | {cuda['pixel']:.4f} | {cuda['step_s']:.3f} | {cuda_seconds:.0f} | {cuda['rss_mib']:.0f} | {peak:.0f} |")
print(f"| cpu | {cpu['compute']} | {cpu['loss']:.4f} | {cpu['smoothed']:.4f} | {cpu['pixel']:.4f} | {cpu['step_s']:.3f} | {cpu_seconds:.0f} | {cpu['rss_mib']:.0f} | - |")
print(f"\nspeed-up of a training step: {cpu['step_s'] / max(cuda['step_s'], 1e-9):.1f}x")
smoothed_gap = abs(cuda["smoothed"] - cpu["smoothed"]) / max(abs(cpu["smoothed"]), 1e-9)
pixel_gap = abs(cuda["pixel"] - cpu["pixel"])
print(f"smoothed loss differs by {smoothed_gap:.1%} (tolerance {loss_tolerance:.0%}); pixel error by {pixel_gap:.4f} (tolerance {pixel_tolerance})")
if smoothed_gap > loss_tolerance or pixel_gap > pixel_tolerance:
    print("The CUDA and CPU runs disagree beyond tolerance.", file=sys.stderr)
    sys.exit(1)
PY
