#!/usr/bin/python3
"""Training stall per checkpoint in the cluster path (a silo process, the job's worker and reducers), measured in one run.

One silo (localhost clustering, all cores for libtorch), a job at --base channels (default 64: the paper's width,
572x572 tiles, Adam, so a checkpoint is weights + two moments), one tile per step, a checkpoint every --every steps,
its blobs in a folder (the same code path as Azure Blob: CheckpointStore over IBlobStore). From the job's history
(GET /api/jobs/{id}/history: the commit time of every step and the checkpoints written):
  - interval(s) = commit time of s+1 - commit time of s;
  - the stall of a checkpoint at step s = interval(s) - the median interval of steps without a checkpoint;
  - the worker's own figure: seconds the checkpoint held training (pulling the optimizer state from the reducers
    and taking the in-memory snapshot), reported with each written checkpoint; the upload runs in the background.
usage: bench/cluster_checkpoint.py [--base 64] [--steps 13] [--every 3] [--out results.jsonl]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SILO = os.path.join(ROOT, "src", "Silo", "bin", "Release", "net10.0", "UNetCluster.Silo.dll")
UNET = os.path.join(ROOT, "src", "Client", "bin", "Release", "net10.0", "unet.dll")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=int, default=64)
    parser.add_argument("--steps", type=int, default=13)
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    storage = tempfile.mkdtemp(prefix="unet-ckpt-bench-")
    http, gateway = free_port(), free_port()
    env = dict(os.environ, UNetCluster__Cluster__SiloPort=str(free_port()), UNetCluster__Cluster__GatewayPort=str(gateway),
               UNetCluster__Storage__Root=storage, UNetCluster__Http__Urls=f"http://127.0.0.1:{http}",
               Logging__LogLevel__Default="Warning")
    silo = subprocess.Popen(["dotnet", SILO], env=env, cwd=os.path.dirname(SILO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                get(f"http://127.0.0.1:{http}/api/cluster")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        submit = subprocess.run(["dotnet", UNET, "submit", "--gateway", f"127.0.0.1:{gateway}", "--preset", "quick",
                                 "--base-channels", str(args.base), "--batch", "1", "--steps", str(args.steps), "--minutes", "600",
                                 "--checkpoint-every", str(args.every), "--id", "ckpt"], capture_output=True, text=True, timeout=600)
        if submit.returncode != 0:
            raise RuntimeError(submit.stderr)
        while True:
            status = get(f"http://127.0.0.1:{http}/api/jobs/ckpt")
            if status["state"] in ("completed", "cancelled", "failed", "Completed", "Cancelled", "Failed"):
                break
            time.sleep(2)
        history = get(f"http://127.0.0.1:{http}/api/jobs/ckpt/history")
    finally:
        silo.kill()
        silo.wait()
        shutil.rmtree(storage, ignore_errors=True)

    def at(point):
        from datetime import datetime
        return datetime.fromisoformat(point["at"].replace("Z", "+00:00")).timestamp()

    steps = {p["step"]: at(p) for p in history["steps"]}
    intervals = {s: steps[s + 1] - steps[s] for s in steps if s + 1 in steps and s >= 2}   # after warm-up
    checkpointed = {c["step"] for c in history["checkpoints"]}
    plain = [v for s, v in intervals.items() if s not in checkpointed]
    with_checkpoint = [v for s, v in intervals.items() if s in checkpointed]
    base = statistics.median(plain)
    result = {
        "base_channels": args.base, "steps": args.steps, "checkpoint_every": args.every, "final_state": status["state"],
        "checkpoint_bytes": max(c["bytes"] for c in history["checkpoints"]),
        "median_step_interval_s": round(base, 3),
        "intervals_with_checkpoint_s": [round(v, 3) for v in with_checkpoint],
        "stall_by_interval_s": [round(v - base, 3) for v in with_checkpoint],
        "stall_reported_by_worker_s": [round(c["seconds"], 3) for c in history["checkpoints"]],
        "stall_fraction_median": round(statistics.median([c["seconds"] for c in history["checkpoints"]]) / base, 4),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
