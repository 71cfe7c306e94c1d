#!/usr/bin/python3
"""Sync overhead of PyTorch DistributedDataParallel (gloo, loopback) on the same U-Net as bench/pytorch/unet_step.py.

W processes, each one tile per step (its own random tile), Adam. --mode synced: DDP all-reduces the gradients every
step; --mode unsynced: the same DDP workers step under model.no_sync(), so nothing is exchanged. Each rank times its
steps; the aggregate rate is W tiles per median step. Loopback bytes (/proc/net/dev, interface lo) over the timed
steps are divided by steps and W: bytes sent per worker per step, comparable with the cluster's figure.
Prints one JSON line on stdout. Run with Debian's /usr/bin/python3 (python3-torch).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_step import UNet, output_size  # noqa: E402


def loopback_tx_bytes():
    with open("/proc/net/dev", encoding="ascii") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[8])
    return 0


def worker(rank, args, port, results):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    torch.manual_seed(args.seed)
    model = UNet(depth=4, base_channels=args.base)
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    out = output_size(4, args.tile)
    generator = torch.Generator().manual_seed(args.seed + rank)
    images = torch.randn(1, 1, args.tile, args.tile, generator=generator)
    masks = torch.randint(0, 2, (1, out, out), dtype=torch.int64, generator=generator)
    weights = torch.rand(1, out, out, generator=generator) * 9 + 1

    def step():
        optimizer.zero_grad(set_to_none=True)
        if args.mode == "synced":
            loss = (F.cross_entropy(ddp(images), masks, reduction="none") * weights).mean()
            loss.backward()
        else:
            with ddp.no_sync():
                loss = (F.cross_entropy(ddp(images), masks, reduction="none") * weights).mean()
                loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    dist.barrier()
    tx = loopback_tx_bytes()
    seconds = []
    for _ in range(args.steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    dist.barrier()
    tx = loopback_tx_bytes() - tx
    results.put((rank, seconds, tx, sum(p.numel() for p in model.parameters())))
    dist.destroy_process_group()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--base", type=int, default=16)
    parser.add_argument("--tile", type=int, default=572)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bucket-mb", type=int, default=25, help="DDP's gradient bucket size (its default)")
    parser.add_argument("--mode", choices=["synced", "unsynced"], default="synced")
    parser.add_argument("--port", type=int, default=29512)
    args = parser.parse_args(argv)

    context = mp.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=worker, args=(rank, args, args.port, results)) for rank in range(args.world)]
    for p in processes:
        p.start()
    rows = [results.get(timeout=3600) for _ in processes]
    for p in processes:
        p.join()
    if any(p.exitcode != 0 for p in processes):
        print("error: a rank failed", file=sys.stderr)
        return 1
    rows.sort()
    medians = [statistics.median(r[1]) for r in rows]
    tx = rows[0][2]   # the loopback counter is the machine's: every rank read the same interval
    parameters = rows[0][3]
    print(json.dumps({
        "framework": "pytorch-ddp-gloo",
        "version": f"PyTorch {torch.__version__}",
        "mode": args.mode,
        "workers": args.world,
        "base_channels": args.base,
        "tile": args.tile,
        "threads_per_worker": args.threads,
        "parameters": parameters,
        "steps": args.steps,
        "median_step_s": round(max(medians), 4),
        "tiles_per_s": round(sum(1 / m for m in medians), 4),
        "loopback_bytes_per_worker_step": round(tx / args.steps / args.world),
        "model_bytes": parameters * 4,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
