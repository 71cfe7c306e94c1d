#!/usr/bin/python3
"""Sync overhead of data-parallel training, ours (Orleans silos) and PyTorch DDP (gloo), measured in one run.

For each base width (16 and 64, 572x572 tiles, one tile per worker per step, Adam) and 1 and 2 workers:
  - ours synced:   a real cluster (redis-server + one silo process per worker, each with cores/W libtorch threads),
                   a job submitted with the unet CLI; tiles/s from the coordinator's clock between two steps after
                   warm-up; bytes per worker per step from the job status (gradient + parameter messages) and from
                   the loopback interface counter over the same steps;
  - ours unsynced: the same worker code (GradientEngine with the same tile sampling and augmentation, plus a local
                   optimizer update) in W concurrent processes with the same threads, nothing exchanged;
  - PyTorch DDP (gloo) synced and unsynced (no_sync), W processes, same threads (bench/pytorch/ddp_sync.py); fp32
                   only, whatever --precisions says.
--precisions fp32,bf16 runs both "ours" sides in each precision (the job submitted with --precision, the bench worker
given it): in bf16 the workers compute in bf16 and the gradient and parameter buckets travel as bf16.
The sync overhead ratio is synced tiles/s / unsynced tiles/s. Prints a Markdown table; JSON lines to --out.
usage: bench/sync.py [--steps 5] [--warmup 2] [--bases 16,64] [--workers 1,2] [--sides ours,pytorch] [--send after[,during]]
                     [--transport dataplane[,messages]] [--copies on[,off]] [--tile 572] [--bucket-kib N] [--rounds 1]
                     [--precisions fp32[,bf16]] [--out results.jsonl]
Needs: a Release build (bench/sync.py builds it), redis-server, Debian's python3-torch for /usr/bin/python3.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "src", "Client", "bin", "Release", "net10.0")
SILO = os.path.join(ROOT, "src", "Silo", "bin", "Release", "net10.0", "UNetCluster.Silo.dll")
UNET = os.path.join(BIN, "unet.dll")
BENCH = os.path.join(ROOT, "bench", "UNetCluster.Bench", "bin", "Release", "net10.0", "UNetCluster.Bench")
DDP = os.path.join(ROOT, "bench", "pytorch", "ddp_sync.py")

sys.path.insert(0, os.path.dirname(DDP))
from ddp_sync import loopback_tx_bytes  # noqa: E402  (the same counter on both sides)


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def unet(args, redis, cluster):
    out = subprocess.run(["dotnet", UNET, *args, "--redis", redis, "--cluster-id", cluster],
                         capture_output=True, text=True, timeout=600)
    return out.returncode, out.stdout, out.stderr


def ours_synced(base, workers, warmup, steps, threads, send="after", bucket_kib=None, tile=None, transport="dataplane", precision="fp32", copies="on"):
    cluster = f"bench-{os.getpid()}-{base}-{workers}"
    storage = tempfile.mkdtemp(prefix="unet-sync-bench-")
    redis_port = free_port()
    redis = f"127.0.0.1:{redis_port}"
    secret = secrets.token_hex(32)
    processes = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_port(redis_port)
        for i in range(workers):
            gateway = free_port()
            env = dict(os.environ,
                       UNetCluster__Cluster__Clustering="Redis", UNetCluster__Cluster__Redis=redis,
                       UNetCluster__Cluster__ClusterId=cluster, UNetCluster__Cluster__ServiceId=cluster,
                       UNetCluster__Cluster__SiloPort=str(free_port()), UNetCluster__Cluster__GatewayPort=str(gateway),
                       UNetCluster__Storage__Root=storage, UNetCluster__Worker__Threads=str(threads),
                       UNetCluster__Http__Urls=f"http://127.0.0.1:{free_port()}",   # each silo its own HTTP port
                       UNetCluster__Worker__SendDuringBackward="true" if send == "during" else "false",
                       UNetCluster__Cluster__DataPlane="true" if transport == "dataplane" else "false",
                       UNetCluster__Cluster__DataPlaneSecret=secret,   # the same for every silo of the run
                       Logging__LogLevel__Default="Warning")
            logs = os.environ.get("UNET_BENCH_LOGS")   # a directory: keep each silo's log, with the step timelines
            if logs:
                os.makedirs(logs, exist_ok=True)
                env.update({"Logging__LogLevel__UNetCluster.Silo.Engines.WorkerEngine": "Debug",
                            "Logging__LogLevel__UNetCluster.Silo.Grains.ReducerGrain": "Debug"})
            sink = open(os.path.join(logs, f"silo-{base}-{workers}-{i}.log"), "w") if logs else subprocess.DEVNULL
            processes.append(subprocess.Popen(["dotnet", SILO], env=env, cwd=os.path.dirname(SILO),
                                              stdout=sink, stderr=subprocess.STDOUT))
            wait_port(gateway)
        total = warmup + steps
        code, out, err = unet(["submit", "--preset", "quick", "--base-channels", str(base), "--batch", str(workers),
                               "--workers", str(workers), "--reducers", str(workers), "--steps", str(total),
                               "--minutes", "600", "--checkpoint-every", "100000", "--id", "sync", "--precision", precision,
                               *(["--bucket-kib", str(bucket_kib)] if bucket_kib else []),
                               *(["--no-reducer-copies"] if copies == "off" else []),
                               *(["--tile", str(tile)] if tile else [])], redis, cluster)
        if code != 0:
            raise RuntimeError(f"submit failed: {err}")

        # Follow the job with one CLI process (cheap grain polls), not a process per poll: starting a .NET process
        # costs a core-second, which would be charged to the workers on a 2-core machine.
        tx = loopback_tx_bytes()
        code, out, err = unet(["watch", "sync"], redis, cluster)
        tx = loopback_tx_bytes() - tx
        code, out, err = unet(["status", "sync", "--json"], redis, cluster)
        if code != 0:
            raise RuntimeError(err)
        last = json.loads(out)
        if last["step"] != total:
            raise RuntimeError(f"job ended early: {last}")
        done = min(steps, 5)   # JobStatus.RecentWindow: the rate over the last 5 steps, after warm-up when steps >= 5
        return {
            "framework": "unetcluster", "mode": "synced", "precision": precision, "worker_compute": last.get("workerCompute"), "send": send, "transport": transport, "copies": copies, "bucket_kib": bucket_kib, "tile": tile or 572, "workers": workers, "base_channels": base, "threads_per_worker": threads,
            "parameters": last["parameters"], "timed_steps": done,
            "tiles_per_s": round(last["recentTilesPerSecond"], 4),
            "message_bytes_per_worker_step": last["bytesPerWorkerStep"],
            "loopback_bytes_per_worker_step": round(tx / total / workers),   # whole job, set-up included
            "model_bytes": last["parameters"] * 4,
            "wire_bytes_per_value": 2 if precision == "bf16" else 4,   # gradient and parameter buckets (bf16 on the wire in bf16)
            "last_step_compute_s": last.get("computeSeconds"), "last_step_sync_s": last.get("syncSeconds"),
            "last_step_s": last.get("stepSeconds"), "last_step_open_s": last.get("openSeconds"),

        }
    finally:
        for p in reversed(processes):
            p.kill()
            p.wait()
        shutil.rmtree(storage, ignore_errors=True)


def _seconds(span):
    # TimeSpan as System.Text.Json writes it: [d.]hh:mm:ss[.fffffff]
    days = 0
    if "." in span.split(":")[0]:
        d, span = span.split(".", 1)
        days = int(d)
    h, m, s = span.split(":")
    return days * 86400 + int(h) * 3600 + int(m) * 60 + float(s)


def ours_unsynced(base, workers, warmup, steps, threads, tile=572, precision="fp32"):
    command = [BENCH, "worker", "--base", str(base), "--tile", str(tile), "--batch", "1", "--warmup", str(warmup),
               "--steps", str(steps), "--threads", str(threads), "--precision", precision]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(workers)]
    rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in processes]
    if any(r.get("precision") != precision for r in rows):
        raise RuntimeError(f"the bench worker did not run in {precision}: {rows}")
    return {"framework": "unetcluster", "mode": "unsynced", "precision": precision, "tile": tile, "workers": workers, "base_channels": base, "threads_per_worker": threads,
            "parameters": rows[0]["parameters"], "tiles_per_s": round(sum(r["tiles_per_s"] for r in rows), 4)}


def pytorch(mode, base, workers, warmup, steps, threads, tile=572):
    out = subprocess.run(["/usr/bin/python3", DDP, "--world", str(workers), "--base", str(base), "--tile", str(tile), "--warmup", str(warmup),
                          "--steps", str(steps), "--threads", str(threads), "--mode", mode, "--port", str(free_port())],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), precision="fp32")   # DDP runs fp32 only


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--bases", default="16,64")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--out")
    parser.add_argument("--sides", default="ours,pytorch", help="ours, pytorch or both, or single runs by name (\"ours synced\")")
    parser.add_argument("--send", default="after",
                        help="ours synced: when workers send gradient buckets, 'during' the backward pass, 'after' it, or both "
                             "('during,after': each round runs both, next to the same unsynced run)")
    parser.add_argument("--transport", default="dataplane",
                        help="ours synced: buckets between silos over the 'dataplane' (the default) or as Orleans 'messages', or both "
                             "('dataplane,messages': each round runs both, next to the same unsynced run)")
    parser.add_argument("--copies", default="on",
                        help="ours synced: reducer copies on another silo 'on' (the default) or 'off', or both ('on,off': each round "
                             "runs both, next to the same unsynced run); with one worker there is no other silo, so no copy either way")
    parser.add_argument("--bucket-kib", type=int, help="ours synced: the job's gradient and parameter bucket size (default: the job default, 4096)")
    parser.add_argument("--tile", type=int, default=572,
                        help="input tile size; a small valid one (188) makes the step's sync dominate it, to measure the data path alone")
    parser.add_argument("--precisions", default="fp32",
                        help="ours, synced and unsynced: fp32, bf16 or both ('fp32,bf16': each round runs ours in both, "
                             "next to one fp32 DDP run); PyTorch DDP is always fp32")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate unsynced and synced runs this many times; the ratio is the median of the rounds' ratios "
                             "(this machine's speed drifts by tens of percent between minutes)")
    args = parser.parse_args(argv)
    precisions = args.precisions.split(",")
    if any(p not in ("fp32", "bf16") for p in precisions):
        parser.error(f"--precisions {args.precisions}: expected fp32, bf16 or both")
    # The glibc malloc settings the product runs with (scripts/unet.sh, the images), for every side of the comparison.
    os.environ.setdefault("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1")
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "UNetCluster.sln"), "-c", "Release", "-v", "quiet", "--nologo"],
                   check=True, stdout=sys.stderr)
    cores = len(os.sched_getaffinity(0))
    log(f"{cores} CPUs, load average {open('/proc/loadavg').read().split()[:3]}, GLIBC_TUNABLES={os.environ['GLIBC_TUNABLES']}")
    rows = []
    for base in [int(b) for b in args.bases.split(",")]:
        for workers in [int(w) for w in args.workers.split(",")]:
            threads = max(1, cores // workers)
            for round_ in range(args.rounds):
                ours = []
                for precision in precisions:
                    ours.append(("ours unsynced", precision, lambda precision=precision: ours_unsynced(
                        base, workers, args.warmup, args.steps, threads, args.tile, precision)))
                    ours.extend(("ours synced", precision, lambda send=send, transport=transport, precision=precision, copies=copies: ours_synced(
                                     base, workers, args.warmup, args.steps, threads, send, args.bucket_kib, args.tile, transport, precision, copies))
                                for send in args.send.split(",") for transport in args.transport.split(",") for copies in args.copies.split(","))
                for name, precision, run in [*ours,
                                             ("pytorch unsynced", "fp32", lambda: pytorch("unsynced", base, workers, args.warmup, args.steps, threads, args.tile)),
                                             ("pytorch synced", "fp32", lambda: pytorch("synced", base, workers, args.warmup, args.steps, threads, args.tile))]:
                    if name.split()[0] not in args.sides.split(",") and name not in args.sides.split(","):
                        continue
                    log(f"== {name} ({precision}): base {base}, {workers} worker(s), {threads} thread(s) each, round {round_ + 1}/{args.rounds}")
                    row = dict(run(), round=round_)
                    log(f"   {json.dumps(row)}")
                    rows.append(row)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)

    def find(framework, mode, base, workers, send=None, transport=None, precision="fp32", copies=None):
        return [r for r in rows if r["framework"].startswith(framework) and r["mode"] == mode and r.get("precision", "fp32") == precision
                and r["base_channels"] == base and r["workers"] == workers and (send is None or r.get("send") in (None, send))
                and (transport is None or r.get("transport") in (None, transport))
                and (copies is None or r.get("copies", "on") == copies)]

    def median(values):
        values = sorted(values)
        n = len(values)
        return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2

    def ratio(framework, base, workers, send=None, transport=None, precision="fp32", copies=None):
        synced = find(framework, "synced", base, workers, send, transport, precision, copies)
        unsynced = find(framework, "unsynced", base, workers, precision=precision)
        if not (synced and unsynced):
            return None
        per_round = [s["tiles_per_s"] / u["tiles_per_s"] for s, u in zip(synced, unsynced)]
        return (median(r["tiles_per_s"] for r in synced), median(r["tiles_per_s"] for r in unsynced), median(per_round),
                " ".join(f"{r:.3f}" for r in per_round), synced[-1])

    print(f"Rounds: {args.rounds}; tiles/s are medians over the rounds, the ratio is the median of the rounds' ratios. "
          "Precision is ours (compute and buckets on the wire); PyTorch DDP runs fp32 in every row (the same runs repeated). "
          "Ours bytes/worker/step: the job status's BytesPerWorkerStep (gradient bucket bytes sent + parameter bucket bytes "
          "pulled by a worker in the last step, payload only) and the loopback counter over the whole job; "
          "2 x model on the wire: what a gradient push and a parameter pull carry in that precision.")
    print("| base | workers | precision | ours: gradient sent, buckets between silos | ours synced tiles/s | ours unsynced | ours ratio (rounds) "
          "| ours bytes/worker/step (messages, loopback) | PyTorch DDP (fp32) synced | unsynced | DDP ratio (rounds) | DDP loopback bytes/worker/step "
          "| 2 x model on the wire |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for base in sorted({r["base_channels"] for r in rows}):
        for workers in sorted({r["workers"] for r in rows}):
            ddp = ratio("pytorch", base, workers)
            for precision, send, transport, copies in [(p, s, t, c) for p in precisions for s in args.send.split(",")
                                                       for t in args.transport.split(",") for c in args.copies.split(",")]:
                ours = ratio("unetcluster", base, workers, send, transport, precision, copies)
                if not ours:
                    continue
                s_rate, u_rate, r, rounds, s = ours
                ddp_cells = (f"| {ddp[0]:.3f} | {ddp[1]:.3f} | {ddp[2]:.3f} ({ddp[3]}) | {ddp[4]['loopback_bytes_per_worker_step'] / 1e6:.1f} MB "
                             if ddp else "| - | - | - | - ")
                print(f"| {base} | {workers} | {precision} | {send} backward, {transport}, copies {copies} | {s_rate:.3f} | {u_rate:.3f} | **{r:.3f}** ({rounds}) "
                      f"| {s['message_bytes_per_worker_step'] / 1e6:.1f} MB, {s['loopback_bytes_per_worker_step'] / 1e6:.1f} MB "
                      f"{ddp_cells}| {2 * s['parameters'] * s['wire_bytes_per_value'] / 1e6:.1f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
