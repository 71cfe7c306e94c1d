#!/usr/bin/python3
"""CPU time of each thread group of running processes, over a window: where a silo's cores go during a benchmark.

usage: bench/thread_cpu.py [--match UNetCluster.Silo.dll] [--processes 2] [--after 45] [--window 40]
Waits until --processes processes whose command line ends with --match run, waits --after seconds (warm-up), then
reads /proc/<pid>/task/*/stat at the start and the end of --window seconds and prints, per process, the cores each
thread name used (user and system time) and the minor page faults per second. Run it next to bench/sync.py, e.g.
  bench/thread_cpu.py & bench/sync.py --bases 64 --workers 2 --sides "ours synced"
  bench/thread_cpu.py --match UNetCluster.Bench --after 30 --window 30 & bench/sync.py --bases 64 --workers 2 --sides "ours unsynced"
"""

import argparse
import collections
import os
import time


def processes(match):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(match.encode()) for part in command):
            found.append(int(pid))
    return found


def threads(pid):
    # name -> (user ticks, system ticks, minor faults), summed over the threads of that name
    totals = {}
    if not os.path.isdir(f"/proc/{pid}/task"):
        return None   # the process ended
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        totals[(tid, name)] = [int(fields[11]), int(fields[12]), int(fields[7])]
    return totals


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--match", default="UNetCluster.Silo.dll")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--after", type=float, default=45)
    parser.add_argument("--window", type=float, default=40)
    args = parser.parse_args()
    while len(processes(args.match)) < args.processes:
        time.sleep(1)
    time.sleep(args.after)
    pids = processes(args.match)
    start = {pid: threads(pid) for pid in pids}
    began = time.time()
    time.sleep(args.window)
    end = {pid: threads(pid) for pid in pids}
    seconds = time.time() - began
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        if end[pid] is None or start[pid] is None:
            print(f"pid {pid} ended within the window: use a shorter --after or --window", flush=True)
            continue
        user, system, faults = collections.Counter(), collections.Counter(), collections.Counter()
        for (tid, name), (u, s, f) in end[pid].items():
            u0, s0, f0 = start[pid].get((tid, name), (0, 0, 0))
            user[name] += u - u0
            system[name] += s - s0
            faults[name] += f - f0
        names = sorted(user, key=lambda n: -(user[n] + system[n]))[:6]
        total = sum(user.values()) + sum(system.values())
        cells = ", ".join(f"{n} {user[n] / tick / seconds:.3f}+{system[n] / tick / seconds:.3f}" for n in names)
        print(f"pid {pid}: {total / tick / seconds:.2f} cores over {seconds:.0f} s (user+system by thread name): {cells}; "
              f"minor faults/s: " + ", ".join(f"{n} {faults[n] / seconds:.0f}" for n in names[:3]), flush=True)


if __name__ == "__main__":
    main()
