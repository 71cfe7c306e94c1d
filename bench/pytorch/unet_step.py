#!/usr/bin/python3
"""The training-step benchmark, PyTorch side: the same U-Net and the same step as bench/UNetCluster.Bench.

The layer plan is src/Model/Modules/UNet.cs (Ronneberger et al. 2015): DoubleConv of two unpadded 3x3
convolutions each followed by a ReLU, 2x2 max-pool down, 2x2 stride-2 transposed convolution up, centre crop of
the skip and concatenation (skip first), 1x1 head. One step: forward, cross-entropy per pixel times a weight map,
mean, backward, optimizer step, loss read back. Same options and the same JSON line as the C# side.

--precision bf16 is the C# side's (GradientEngine's) scheme, written out rather than through torch.autocast: forward
and backward run on a bf16 copy of the fp32 master weights (every layer in bf16, the tile cast to bf16), the logits are
cast to fp32 so that the loss and its softmax are fp32, the bf16 gradients are widened into the masters' fp32 .grad,
the optimizer updates the fp32 masters, and the masters are copied into the bf16 copy for the next step. (CPU
autocast would differ: it runs only the convolutions in bf16, from weights cast at every forward, and hands back
fp32 weight gradients.) PyTorch 1.13 cannot run the 2x2 up-convolutions in bf16 as transposed convolutions on the
CPU: they run as the equivalent 1x1 convolution and pixel shuffle (up_convolution_bf16).

Run it with Debian's /usr/bin/python3 (python3-torch): the pyenv python3 on PATH has no torch.
"""

import argparse
import copy
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# The paper's network: base 64, depth 4, 1 input channel, 2 classes (UNetOptions.Paper, pinned by a C# test).
PAPER_PARAMETERS = 31_030_658


class DoubleConv(nn.Module):
    """Two unpadded 3x3 convolutions, each followed by a ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):  # (B, Cin, H, W) -> (B, Cout, H - 4, W - 4)
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))


class Down(nn.Module):
    """2x2 max-pool with stride 2, then a DoubleConv doubling the channels."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x):  # (B, C, H, W) -> (B, 2C, H/2 - 4, W/2 - 4)
        return self.conv(self.pool(x))


class Up(nn.Module):
    """2x2 up-convolution halving the channels, crop-and-concatenate with the skip, then a DoubleConv."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.conv = DoubleConv(out_channels * 2, out_channels)

    def forward(self, x, skip):  # x (B, C, h, w), skip (B, C/2, H, W) -> (B, C/2, 2h - 4, 2w - 4)
        upsampled = self.up(x) if x.dtype != torch.bfloat16 else up_convolution_bf16(self.up, x)   # (B, C/2, 2h, 2w)
        height, width = upsampled.shape[2], upsampled.shape[3]
        top = (skip.shape[2] - height) // 2
        left = (skip.shape[3] - width) // 2
        cropped = skip[:, :, top:top + height, left:left + width]
        return self.conv(torch.cat([cropped, upsampled], dim=1))    # (B, C, 2h, 2w) into the DoubleConv


def up_convolution_bf16(up, x):
    """A 2x2 stride-2 transposed convolution in bf16, as a 1x1 convolution to 4x the channels and a pixel shuffle.

    PyTorch 1.13 has no CPU bf16 kernel for conv_transpose2d (its oneDNN path fails a channel check, the fallback is
    "not implemented for 'BFloat16'", and CPU autocast runs it in fp32). With kernel = stride = 2 the output pixels
    do not overlap, so this is the same map with the same weights and multiply-adds, in bf16: out[b, o, 2i+a, 2j+c]
    = sum_k x[b, k, i, j] * w[k, o, a, c] + bias[o].
    """
    w = up.weight                                                    # (C, C/2, 2, 2)
    ones = w.permute(1, 2, 3, 0).reshape(w.shape[1] * 4, w.shape[0], 1, 1)   # (C/2 * 4, C, 1, 1), channel o*4 + a*2 + c
    return F.pixel_shuffle(F.conv2d(x, ones, up.bias.repeat_interleave(4)), 2)   # (B, C/2 * 4, h, w) -> (B, C/2, 2h, 2w)


class OutConv(nn.Module):
    """The 1x1 convolution mapping the first level's features to one logit map per class."""

    def __init__(self, in_channels, classes):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, classes, kernel_size=1)

    def forward(self, x):  # (B, C, H, W) -> (B, classes, H, W)
        return self.conv(x)


class UNet(nn.Module):
    """The U-Net of Ronneberger, Fischer and Brox (2015); returns logits. Keys match the C# state dict."""

    def __init__(self, depth=4, base_channels=64, input_channels=1, classes=2):
        super().__init__()
        channels = [base_channels << level for level in range(depth + 1)]
        self.inc = DoubleConv(input_channels, channels[0])
        self.downs = nn.ModuleList(Down(channels[level - 1], channels[level]) for level in range(1, depth + 1))
        self.ups = nn.ModuleList(Up(channels[level], channels[level - 1]) for level in range(depth, 0, -1))
        self.outc = OutConv(channels[0], classes)

    def forward(self, x):  # (B, 1, 572, 572) -> (B, classes, 388, 388) for the paper's plan
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips[-1]
        for i, up in enumerate(self.ups):
            x = up(x, skips[len(skips) - 2 - i])
        return self.outc(x)


def output_size(depth, tile):
    """The output size of a valid-convolution plan, or None when the tile size does not fit (TileGeometry.cs)."""
    size = tile
    for _ in range(depth):
        size -= 4
        if size < 2 or size % 2 != 0:
            return None
        size //= 2
    size -= 4
    if size < 1:
        return None
    for _ in range(depth):
        size = size * 2 - 4
        if size < 1:
            return None
    return size


def peak_rss_bytes():
    """VmHWM, the peak resident set, as /proc reports it (the same figure the C# side reads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=16, help="channels of the first level (paper: 64)")
    parser.add_argument("--depth", type=int, default=4, help="2x2 max-pool down-samplings")
    parser.add_argument("--tile", type=int, default=572, help="input tile size")
    parser.add_argument("--batch", type=int, default=1, help="tiles per step")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="number format of forward and backward; bf16 from a bf16 copy of the fp32 masters, loss in fp32")
    args = parser.parse_args(argv)
    if args.base < 1 or args.depth < 1 or args.batch < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--base, --depth, --batch and --steps must be at least 1, --warmup at least 0")
    if output_size(args.depth, args.tile) is None:
        parser.error(f"--tile {args.tile} is not valid for a depth-{args.depth} U-Net with unpadded convolutions")
    return args


def main(argv):
    args = parse_args(argv)
    # PyTorch 1.13 defaults to one thread per *physical* core as cpuinfo counts them, which is not always the
    # number of CPUs the process may use: set it like the C# side does.
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)

    model = UNet(depth=args.depth, base_channels=args.base)
    parameters = sum(p.numel() for p in model.parameters())
    if (args.base, args.depth) == (64, 4) and parameters != PAPER_PARAMETERS:
        print(f"error: {parameters:,} parameters, the paper's network has {PAPER_PARAMETERS:,}", file=sys.stderr)
        return 1
    out = output_size(args.depth, args.tile)
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.99)

    images = torch.randn(args.batch, 1, args.tile, args.tile)              # (B, 1, tile, tile)
    masks = torch.randint(0, 2, (args.batch, out, out), dtype=torch.int64)  # (B, out, out)
    weights = torch.rand(args.batch, out, out) * 9 + 1                      # (B, out, out) in [1, 10)

    # The model forward and backward run: the fp32 model itself, or its bf16 copy (deepcopy draws no random numbers,
    # so both precisions start from the same weights and tile).
    compute_type = torch.bfloat16 if args.precision == "bf16" else torch.float32
    compute = model if compute_type == torch.float32 else copy.deepcopy(model).to(compute_type)
    pairs = list(zip(model.parameters(), compute.parameters()))

    def step():
        compute.train()
        optimizer.zero_grad(set_to_none=True)
        compute.zero_grad(set_to_none=True)
        logits = compute(images.to(compute_type)).float()                  # (B, 2, out, out); the loss in fp32
        loss = (F.cross_entropy(logits, masks, reduction="none") * weights).mean()
        loss.backward()
        update = time.perf_counter()
        if compute is not model:
            for master, copy_ in pairs:
                master.grad = copy_.grad.float()                            # widened into the fp32 masters
        optimizer.step()
        if compute is not model:
            with torch.no_grad():
                for master, copy_ in pairs:
                    copy_.copy_(master)                                     # the update into the bf16 copy
        update_seconds = time.perf_counter() - update
        return loss.item(), update_seconds

    mkldnn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    version = f"PyTorch {torch.__version__}"
    print(f"{version}: U-Net base {args.base}, depth {args.depth}, {args.tile}x{args.tile} -> {out}x{out}, "
          f"batch {args.batch}, {args.precision}, {parameters:,} parameters, {args.optimizer} lr {args.lr}, "
          f"{torch.get_num_threads()} threads, oneDNN {'on' if mkldnn else 'off'}", file=sys.stderr)

    for i in range(args.warmup):
        started = time.perf_counter()
        loss, _ = step()
        print(f"  warm-up {i + 1}/{args.warmup}: {time.perf_counter() - started:.3f} s, loss {loss:.4f}", file=sys.stderr)

    seconds, updates, losses = [], [], []
    for i in range(args.steps):
        started = time.perf_counter()
        loss, update = step()
        seconds.append(time.perf_counter() - started)
        updates.append(update)
        losses.append(loss)
        print(f"  step {i + 1}/{args.steps}: {seconds[-1]:.3f} s (update {update:.3f} s), loss {loss:.4f}",
              file=sys.stderr)

    median = statistics.median(seconds)
    result = {
        "framework": "pytorch",
        "version": version,
        "base_channels": args.base,
        "depth": args.depth,
        "tile": args.tile,
        "output": out,
        "batch": args.batch,
        "precision": args.precision,
        "parameters": parameters,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "threads": torch.get_num_threads(),
        "mkldnn": mkldnn,
        "warmup": args.warmup,
        "steps": args.steps,
        "median_s": round(median, 4),
        "min_s": round(min(seconds), 4),
        "update_median_s": round(statistics.median(updates), 4),
        "tiles_per_s": round(args.batch / median, 4),
        "peak_rss_mb": round(peak_rss_bytes() / (1024 * 1024), 1),
        "first_loss": round(losses[0], 6),
        "last_loss": round(losses[-1], 6),
        "step_times_s": [round(s, 4) for s in seconds],
    }
    print(f"  median {median:.3f} s/step (update {result['update_median_s']:.3f} s), min {min(seconds):.3f} s, "
          f"{result['tiles_per_s']:.3f} tiles/s, peak RSS {result['peak_rss_mb']:.0f} MiB", file=sys.stderr)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
