#!/usr/bin/python3
"""What a silo's loss costs a running job (issue 18), measured on a real cluster on this machine.

Starts redis-server and --silos silo processes (Orleans' default failure detection unless --fast-detection), submits a
training job (the quick preset at --base channels, one tile per worker per step, a reducer per silo, a checkpoint
every --checkpoint-every steps), follows its status over the REST API (GET /api/jobs/{id}, four times a second, from a
silo that stays), and
  1. at step --kill-at kills (SIGKILL) a silo that hosts a reducer but not the job's coordinator,
  2. 15 committed steps later starts a new silo in its place (it joins and may take reducers or copies over),
  3. 15 committed steps after that kills the coordinator's silo.
For each fault it prints the seconds from the kill to the next step committed past the one the job was at, the steps
the job went back (0 unless it went back to a checkpoint), and the recomputed attempts, restores and reducers taken
over that the status counts. Run it once with reducer copies on (the default) and once with --copies off.
usage: bench/faults.py [--copies on|off] [--base 16] [--silos 3] [--kill-at 8] [--checkpoint-every 20] [--fast-detection]
Needs: a Release build (it builds one), redis-server.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sync import ROOT, SILO, free_port, log, unet, wait_port  # noqa: E402


def start_silo(index, redis, cluster, storage, secret, fast, logs, threads=1):
    gateway, http, silo_port = free_port(), free_port(), free_port()
    env = dict(os.environ,
               UNetCluster__Cluster__Clustering="Redis", UNetCluster__Cluster__Redis=redis,
               UNetCluster__Cluster__ClusterId=cluster, UNetCluster__Cluster__ServiceId=cluster,
               UNetCluster__Cluster__SiloPort=str(silo_port), UNetCluster__Cluster__GatewayPort=str(gateway),
               UNetCluster__Cluster__DataPlaneSecret=secret,
               UNetCluster__Storage__Root=storage, UNetCluster__Worker__Threads=str(threads),
               UNetCluster__Http__Urls=f"http://127.0.0.1:{http}",
               Logging__LogLevel__Default="Warning")
    env.update({"Logging__LogLevel__UNetCluster.Training.Coordination": "Information"})
    if fast:
        env.update(UNetCluster__Cluster__ProbeTimeoutSeconds="1", UNetCluster__Cluster__MissedProbesLimit="2")
    sink = open(os.path.join(logs, f"silo-{index}-{gateway}.log"), "w")
    process = subprocess.Popen(["dotnet", SILO], env=env, cwd=os.path.dirname(SILO), stdout=sink, stderr=subprocess.STDOUT)
    wait_port(gateway)
    wait_port(http)
    return {"process": process, "http": http, "gateway": gateway, "silo_port": silo_port, "name": f"silo {index}"}


def status(silos, job):
    for silo in silos:
        if silo["process"].poll() is not None:
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{silo['http']}/api/jobs/{job}", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            continue
    return None


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", default="on", choices=["on", "off"])
    parser.add_argument("--base", type=int, default=16)
    parser.add_argument("--silos", type=int, default=3)
    parser.add_argument("--kill-at", type=int, default=8)
    parser.add_argument("--checkpoint-every", type=int, default=20)
    parser.add_argument("--fast-detection", action="store_true", help="1 s probes, 2 missed (the end-to-end tests' settings)")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1")
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "UNetCluster.sln"), "-c", "Release", "-v", "quiet", "--nologo"],
                   check=True, stdout=sys.stderr)
    cluster = f"faults-{os.getpid()}"
    storage = tempfile.mkdtemp(prefix="unet-faults-")
    logs = os.environ.get("UNET_BENCH_LOGS") or os.path.join(storage, "logs")
    os.makedirs(logs, exist_ok=True)
    redis_port = free_port()
    redis = f"127.0.0.1:{redis_port}"
    secret = secrets.token_hex(32)
    redis_process = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    silos = []
    try:
        wait_port(redis_port)
        for i in range(args.silos):
            silos.append(start_silo(i, redis, cluster, storage, secret, args.fast_detection, logs))
        time.sleep(5)
        job = "faults"
        code, _, err = unet(["submit", "--preset", "quick", "--base-channels", str(args.base), "--batch", str(args.silos),
                             "--workers", str(args.silos), "--reducers", str(args.silos), "--steps", "100000", "--minutes", "600",
                             "--checkpoint-every", str(args.checkpoint_every), "--validate-every", "100000", "--id", job,
                             *(["--no-reducer-copies"] if args.copies == "off" else [])], redis, cluster)
        if code != 0:
            raise RuntimeError(f"submit failed: {err}")

        def wait(condition, what, timeout=600):
            deadline = time.time() + timeout
            while time.time() < deadline:
                s = status(silos, job)
                if s and condition(s):
                    return s
                time.sleep(0.25)
            raise RuntimeError(f"timed out waiting for {what}: {status(silos, job)}")

        def port_of(silo_key):
            return silo_key.split("@")[-2].split(":")[-1] if "@" in silo_key else None

        def fault(victim_is_coordinator, label):
            s = wait(lambda s: s["step"] >= args.kill_at and len(s.get("workers", [])) == args.silos
                     and (args.copies == "off" or all(c for c in s.get("reducerCopies", [])) and s.get("reducerCopies")),
                     "the job to run on every silo")
            coordinator_port = port_of(s["coordinator"])
            reducer_ports = {port_of(r) for r in s.get("reducers", [])}
            candidates = [x for x in silos if x["process"].poll() is None
                          and (str(x["silo_port"]) == coordinator_port) == victim_is_coordinator
                          and (victim_is_coordinator or str(x["silo_port"]) in reducer_ports)]
            victim = candidates[0]
            others = [x for x in silos if x is not victim]
            at, before = s["step"], s
            victim["process"].send_signal(signal.SIGKILL)
            killed = time.time()
            lowest = at
            while True:
                s = status(others, job)
                if s:
                    lowest = min(lowest, s["step"])
                    if s["step"] > at:
                        break
                time.sleep(0.25)
            seconds = time.time() - killed
            row = {"fault": label, "copies": args.copies, "detection": "fast" if args.fast_detection else "default",
                   "step_at_kill": at, "seconds_to_next_commit": round(seconds, 1), "steps_gone_back": at - lowest,
                   "recomputed": s["recomputedSteps"] - before["recomputedSteps"], "restores": s["restores"] - before["restores"],
                   "taken_over": s.get("reducersRecovered", 0) - before.get("reducersRecovered", 0),
                   "takeovers": s["takeovers"] - before["takeovers"], "step_seconds": before.get("stepSeconds")}
            log(json.dumps(row))
            return victim, row

        rows = []
        victim, row = fault(False, "silo with a reducer (not the coordinator's)")
        rows.append(row)
        at = status(silos, job)["step"]
        wait(lambda s: s["step"] >= at + 15, "15 steps on the survivors")
        index = silos.index(victim)
        silos[index] = start_silo(index, redis, cluster, storage, secret, args.fast_detection, logs)
        at = wait(lambda s: len(s.get("workers", [])) == args.silos, "the new silo to join")["step"]
        args.kill_at = at + 15
        _, row = fault(True, "the coordinator's silo")
        rows.append(row)
        unet(["cancel", job], redis, cluster)
        print("| fault | reducer copies | failure detection | step at the kill | s to the next committed step | steps gone back "
              "| recomputed attempts | restores | reducers taken over / adopted | step time before (s) |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['fault']} | {r['copies']} | {r['detection']} | {r['step_at_kill']} | {r['seconds_to_next_commit']} | {r['steps_gone_back']} "
                  f"| {r['recomputed']} | {r['restores']} | {r['taken_over']} | {r['step_seconds']:.2f} |")
        return 0
    finally:
        for silo in silos:
            if silo["process"].poll() is None:
                silo["process"].terminate()
        redis_process.terminate()
        if not os.environ.get("UNET_BENCH_LOGS"):
            shutil.rmtree(storage, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
