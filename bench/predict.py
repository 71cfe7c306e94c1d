#!/usr/bin/python3
"""Prediction jobs on the cluster (issue 19): their overhead against local `unet predict`, and a huge image in blocks.

1. Trains a throw-away checkpoint (the quick preset at --base channels, 2 steps: the speed of prediction does not
   depend on the weights) and copies it into the cluster's storage (a folder store shared by the silo processes).
2. Times local `unet predict` on --images bundled ISBI sections (512 x 512), then a prediction job on the same images
   (`unet predict --cluster --checkpoint ... --prefix ... --watch`) with 1, 2 and 3 silo processes, in the same run.
   Wall time from start to end for both (process start and checkpoint load included on both sides). With one silo
   its libtorch gets both cores (Worker:Threads 2), as local predict does; with 2 and 3 silos, one thread each.
3. With --big N (0 to skip): an N x N 8-bit image (the ISBI sections tiled) predicted by a job on 3 silos in blocks of
   the default size; prints its time and each silo's peak RSS (VmHWM), and the image's bytes for comparison.
   --big-only skips part 2; --big-base sets the big image's network width (default --base).
   --copies K repeats the bundled sections K times (copy k of slice-07.png is slice-07-k.png), for a set large
   enough that the job's fixed costs (the CLI's start and connection, the submission's checks, the checkpoint's load
   on the worker, the manifest) weigh on its images/s no more than they would on a real data set.
usage: bench/predict.py [--base 16] [--images 24] [--copies 1] [--big 16000] [--big-base B] [--big-only]
Needs: a Release build (it builds one), redis-server.
"""

import argparse
import json
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faults import start_silo  # noqa: E402
from sync import ROOT, UNET, free_port, log, unet, wait_port  # noqa: E402

BUNDLED = os.path.join(ROOT, "data", "isbi2012-em", "images")


def peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def write_png_gray8(path, pixels, width, height):
    """A plain 8-bit gray PNG (filter 0 per row), written without any image library."""
    raw = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def big_image(path, side):
    """The first bundled section (512 x 512, read with PIL) tiled to side x side."""
    import numpy
    from PIL import Image  # python3-pil
    tile = numpy.asarray(Image.open(os.path.join(BUNDLED, sorted(os.listdir(BUNDLED))[0])).convert("L"))
    reps = (side + tile.shape[0] - 1) // tile.shape[0]
    image = numpy.tile(tile, (reps, reps))[:side, :side]
    write_png_gray8(path, numpy.ascontiguousarray(image).tobytes(), side, side)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=16)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--big", type=int, default=16000)
    parser.add_argument("--big-base", type=int)
    parser.add_argument("--big-only", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1")
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "UNetCluster.sln"), "-c", "Release", "-v", "quiet", "--nologo"],
                   check=True, stdout=sys.stderr)
    work = tempfile.mkdtemp(prefix="unet-predict-bench-")
    storage = os.path.join(work, "storage")
    logs = os.environ.get("UNET_BENCH_LOGS") or os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    rows = []
    try:
        for base, name in sorted({(args.base, "checkpoint"), (args.big_base or args.base, f"checkpoint-{args.big_base or args.base}")}):
            run = os.path.join(work, f"run-{name}")
            subprocess.run(["dotnet", UNET, "train", "--preset", "quick", "--base-channels", str(base), "--steps", "2", "--out", run],
                           check=True, stdout=subprocess.DEVNULL)
            steps = sorted(d for d in os.listdir(os.path.join(run, "checkpoints")) if d.isdigit())
            shutil.copytree(os.path.join(run, "checkpoints", steps[-1]), os.path.join(storage, "bench", name))
        inputs = os.path.join(work, "inputs")
        os.makedirs(inputs)
        for name in sorted(os.listdir(BUNDLED))[:args.images]:
            for copy in range(args.copies):
                stem, extension = os.path.splitext(name)
                shutil.copy(os.path.join(BUNDLED, name), os.path.join(inputs, name if copy == 0 else f"{stem}-{copy}{extension}"))
        args.images = len(os.listdir(inputs))   # the bundled set has 24, times --copies
        shutil.copytree(inputs, os.path.join(storage, "bench", "images"))

        local = None
        if not args.big_only:
            started = time.time()
            subprocess.run(["dotnet", UNET, "predict", "--checkpoint", os.path.join(storage, "bench", "checkpoint"), "--input", inputs,
                            "--out", os.path.join(work, "local")], check=True, stdout=subprocess.DEVNULL)
            local = time.time() - started
            rows.append(("local `unet predict`", args.images, local))
            log(f"local: {args.images / local:.2f} images/s")
            for silos in (1, 2, 3):
                rows.extend(job(silos, storage, logs, args.images, ["--prefix", "bench/images/"], f"p{silos}", runs=2))

        if args.big > 0:
            os.makedirs(os.path.join(storage, "bench", "big"))
            big_image(os.path.join(storage, "bench", "big", "big.png"), args.big)
            row = job(3, storage, logs, 1, ["--prefix", "bench/big/", "--no-overlays"], "big", peak=True,
                      checkpoint=f"bench/checkpoint-{args.big_base or args.base}")
            rows.extend(row)

        print(f"| what | images | wall s | images/s | vs local |")
        print("|---|---:|---:|---:|---:|")
        for what, images, seconds, *rest in rows:
            ratio = f"{local / args.images * images / seconds:.2f}" if local else "-"
            print(f"| {what} | {images} | {seconds:.1f} | {images / seconds:.3f} | {ratio} |"
                  + (f" peak RSS per silo: {', '.join(f'{b / 2**30:.2f} GiB' for b in rest[0])}" if rest else ""))
        return 0
    finally:
        if not os.environ.get("UNET_BENCH_LOGS"):
            shutil.rmtree(work, ignore_errors=True)


def job(silos, storage, logs, images, source, job_id, peak=False, checkpoint="bench/checkpoint", runs=1):
    """Rows for `runs` jobs in a row on one fresh cluster: the first pays the silos' JIT and the checkpoint's load,
    a second one shows the steady state of a cluster that stays up (as a deployed one does)."""
    redis_port = free_port()
    redis = f"127.0.0.1:{redis_port}"
    cluster = f"predict-{os.getpid()}-{job_id}"
    secret = secrets.token_hex(32)
    redis_process = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = []
    try:
        wait_port(redis_port)
        threads = 2 if silos == 1 else 1
        processes = [start_silo(i, redis, cluster, storage, secret, False, logs, threads)["process"] for i in range(silos)]
        time.sleep(5)
        rows = []
        for run in range(runs):
            run_id = job_id if run == 0 else f"{job_id}-{run + 1}"
            started = time.time()
            code, out, err = unet(["predict", "--cluster", "--checkpoint", checkpoint, *source, "--workers", str(silos),
                                   "--id", run_id, "--watch"], redis, cluster)
            seconds = time.time() - started
            if code != 0:
                raise RuntimeError(f"job {run_id} failed: {out}\n{err}")
            code, out, err = unet(["status", run_id, "--json"], redis, cluster)
            status = json.loads(out)
            log(f"{run_id}: {silos} silo(s), {seconds:.1f} s, units {status['prediction']['units']}, workers {status['workers']}")
            label = (f"prediction job, {silos} silo{'s' if silos > 1 else ''}" + (" (one image in blocks)" if peak else "")
                     + (", first job" if runs > 1 and run == 0 else f", job {run + 1} on the same silos" if run > 0 else ""))
            rows.append((label, images, seconds, [peak_rss(p.pid) for p in processes]) if peak else (label, images, seconds))
        return rows
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        redis_process.terminate()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
