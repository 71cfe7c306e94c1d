#!/usr/bin/env bash
# The training-step benchmark, ours (TorchSharp, bench/UNetCluster.Bench) against the same network in PyTorch
# (Debian's python3-torch, bench/pytorch/unet_step.py), side by side in one run:
#   - base 64, 572x572, batch 1: the paper's network;
#   - base 16, 572x572, batch 1: the default configuration (the quick preset).
# Each configuration runs, in each precision, ours then PyTorch, back to back, with the same seed, options and
# environment. bf16: forward and backward from a bf16 copy of the fp32 master weights, loss and optimizer in fp32, on
# both sides (PyTorch 1.13's bf16 up-convolutions run as 1x1 convolution + pixel shuffle: bench/pytorch/unet_step.py).
# Prints a Markdown table on stdout (progress on stderr) and exits non-zero if either side fails.
#
# usage: bench/run.sh [--warmup 2] [--steps N] [--threads <cores>] [--tile 572] [--precisions fp32,bf16] [--out results.jsonl]
#   --steps       timed steps for every configuration (default: 5 for base 64, 10 for base 16)
#   --tile        input tile for every configuration (default 572; e.g. 188 for a smoke test of the script)
#   --precisions  the precisions every configuration runs in, on both sides (default fp32,bf16)
#   --out         also keep the JSON lines in this file
# Environment: PYTHON (default /usr/bin/python3; the pyenv python3 on PATH has no torch). Everything else,
# GLIBC_TUNABLES or OMP_* for instance, reaches both sides unchanged.
# Budget: under 20 minutes on 2 cores with both precisions, under 10 with one (our fp32 base-64 step takes about
# 9 s). Run it on a quiet machine: with other CPU-heavy work running, 2-thread timings on both sides swing by
# several times.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-/usr/bin/python3}
warmup=2
steps=""
threads=$(nproc)
tile=572
precisions=fp32,bf16
out=""

usage() { sed -n '11,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --steps) steps=${2:?--steps needs a value}; shift 2 ;;
    --threads) threads=${2:?--threads needs a value}; shift 2 ;;
    --tile) tile=${2:?--tile needs a value}; shift 2 ;;
    --precisions) precisions=${2:?--precisions needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "Unknown option '$1'." >&2; usage ;;
  esac
done

IFS=, read -r -a precision_list <<< "$precisions"
for precision in "${precision_list[@]}"; do
  [[ $precision == fp32 || $precision == bf16 ]] || { echo "--precisions: '$precision' is not fp32 or bf16." >&2; exit 2; }
done

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "$python cannot import torch: install Debian's python3-torch or set PYTHON." >&2
  exit 1
fi

echo "Building bench/UNetCluster.Bench (Release)..." >&2
dotnet build "$root/bench/UNetCluster.Bench/UNetCluster.Bench.csproj" -c Release --nologo -v quiet >&2
ours="$root/bench/UNetCluster.Bench/bin/Release/net10.0/UNetCluster.Bench"
theirs="$root/bench/pytorch/unet_step.py"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}" >&2

failed=0
configs=("64 5" "16 10")   # base channels, default timed steps
for config in "${configs[@]}"; do
  read -r base default_steps <<< "$config"
  for precision in "${precision_list[@]}"; do
    args=(--base "$base" --tile "$tile" --batch 1 --warmup "$warmup" --steps "${steps:-$default_steps}" --threads "$threads" --precision "$precision")
    for side in ours pytorch; do
      echo "== $side: ${args[*]}" >&2
      if [[ $side == ours ]]; then command=("$ours" "${args[@]}"); else command=("$python" "$theirs" "${args[@]}"); fi
      if line=$("${command[@]}" | tail -n 1) && [[ $line == "{"* ]]; then
        echo "$line" >> "$results"
      else
        echo "error: the $side side failed for base $base, tile $tile, $precision." >&2
        failed=1
      fi
    done
  done
done

if [[ -n $out ]]; then
  cp "$results" "$out"
fi

# The table; exits non-zero when a side is missing or the two sides disagree on the parameter count.
"$python" - "$results" "$tile" "$precisions" "${configs[@]%% *}" <<'EOF' || failed=1
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
tile = int(sys.argv[2])
precisions = sys.argv[3].split(",")
by_key = {(int(base), tile, 1, precision): {} for base in sys.argv[4:] for precision in precisions}
for row in rows:
    by_key.setdefault((row["base_channels"], row["tile"], row["batch"], row.get("precision", "fp32")), {})[row["framework"]] = row

def cell(row, key, fmt):
    return fmt.format(row[key]) if row else "failed"

ok = True
names = {64: "the paper's network", 16: "the default: quick preset"}
def speed_up(base, tile, batch, precision, framework):
    """fp32 median / this precision's median, for one side: > 1 means this precision is faster."""
    fp32 = by_key.get((base, tile, batch, "fp32"), {}).get(framework)
    this = by_key.get((base, tile, batch, precision), {}).get(framework)
    return f"{fp32['median_s'] / this['median_s']:.2f}" if fp32 and this and precision != "fp32" else "-"

print("| Configuration | Precision | Ours s/step | PyTorch s/step | Ratio (PyTorch / ours) | Ours bf16 speed-up | PyTorch bf16 speed-up "
      "| Our peak RSS | PyTorch peak RSS |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
notes = []
for (base, tile, batch, precision), sides in by_key.items():
    ours, torch_ = sides.get("torchsharp"), sides.get("pytorch")
    ratio = f"{torch_['median_s'] / ours['median_s']:.2f}" if ours and torch_ else "-"
    label = f"base {base}, {tile}x{tile}, batch {batch}" + (f" ({names[base]})" if base in names and tile == 572 else "")
    print(f"| {label} | {precision} | {cell(ours, 'median_s', '{:.3f}')} | {cell(torch_, 'median_s', '{:.3f}')} | {ratio} "
          f"| {speed_up(base, tile, batch, precision, 'torchsharp')} | {speed_up(base, tile, batch, precision, 'pytorch')} "
          f"| {cell(ours, 'peak_rss_mb', '{:.0f} MiB')} | {cell(torch_, 'peak_rss_mb', '{:.0f} MiB')} |")
    if not (ours and torch_):
        ok = False
        continue
    if ours["parameters"] != torch_["parameters"]:
        ok = False
        notes.append(f"error: base {base}: {ours['parameters']:,} parameters here, {torch_['parameters']:,} in PyTorch.")
    # bf16 keeps 8 significant bits and the two sides round in different kernels: their first losses agree less closely.
    tolerance = 1e-2 if precision == "bf16" else 1e-3
    same_loss = abs(ours["first_loss"] - torch_["first_loss"]) <= tolerance * max(1.0, abs(torch_["first_loss"]))
    notes.append(
        f"- base {base}, {precision}: {ours['parameters']:,} parameters on both sides; min s/step {ours['min_s']:.3f} / {torch_['min_s']:.3f}, "
        f"of which update (median) {ours['update_median_s']:.3f} / {torch_['update_median_s']:.3f}; "
        f"{ours['tiles_per_s']:.3f} / {torch_['tiles_per_s']:.3f} tiles/s; first timed loss {ours['first_loss']:.6f} / "
        f"{torch_['first_loss']:.6f}{'' if same_loss else ' (differ)'}; {ours['threads']} / {torch_['threads']} threads; "
        f"oneDNN {'on' if ours['mkldnn'] else 'off'} / {'on' if torch_['mkldnn'] else 'off'}.")
if rows:
    ours_version = next((r["version"] for r in rows if r["framework"] == "torchsharp"), "?")
    torch_version = next((r["version"] for r in rows if r["framework"] == "pytorch"), "?")
    steps = list(dict.fromkeys((r["base_channels"], r["warmup"], r["steps"]) for r in rows))
    print()
    print(f"Ours / PyTorch: {ours_version} / {torch_version}; median of timed steps after warm-up "
          + ", ".join(f"(base {b}: {w} warm-up, {s} timed)" for b, w, s in steps)
          + "; Adam lr 1e-3, weighted cross-entropy, same seed on both sides. Ratio > 1: ours is faster. "
          + "bf16 speed-up: that side's fp32 s/step / its bf16 s/step, from the same run (> 1: bf16 is faster); bf16 is "
          + "forward and backward from a bf16 copy of the fp32 masters, loss and Adam in fp32, on both sides "
          + "(PyTorch 1.13 has no CPU bf16 transposed convolution: its up-convolutions run as 1x1 convolution + pixel shuffle).")
    print()
    print("\n".join(notes))
sys.exit(0 if ok else 1)
EOF

exit "$failed"
