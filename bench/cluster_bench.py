#!/usr/bin/python3
"""`make bench`, part cluster: a cluster build of the bundled samples on this machine.

t1: the one-rank build (`svtwin build --threads 1`); t2: two ranks at once (`--rank r --ranks
2 --threads 1`, two processes: the wall time of both); merge: `svtwin merge` after them.
Parallel efficiency at 2 ranks = t1 / (2 t2) (target >= 0.9), the merge's time as a fraction
of the 2-rank build (target < 5 %). Clips are dealt by their first frame's 100 m cell, cells in
contiguous runs of about equal frames (dataset_cells_deal): the figures say how many views each
rank cut. The CPU time of the ranks against the one-rank build's (work
efficiency) is printed too: on a shared machine the wall-clock figure also measures the
neighbours; so is each rank's CPU time (os.wait4): its balance, and the efficiency a machine
with a core per thread would give (one rank's CPU over twice the busier rank's). Best of
BENCH_REPEAT (2) runs.

usage: cluster_bench.py SVTWIN CAPTURE WORKDIR"""
import os, re, resource, shutil, subprocess, sys, time

svt, cap, work = sys.argv[1:4]
rep = int(os.environ.get("BENCH_REPEAT", "2"))
args = ["--clip-frames", "9", "--cpu", "--threads", "1", "--codec", "lz4"]


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def views(d):
    n = 0
    import json
    with open(os.path.join(d, "manifest.json")) as f:
        for s in json.load(f)["shards"]:
            n += s["frames"]
    return n


best = {"t1": 1e9, "t2": 1e9, "merge": 1e9, "twin": 1e9, "c1": 1e9, "c2": 1e9, "cm": 1e9,
        "rmax": 1e9, "rcpu": [0, 0]}


def cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


per_rank = []
for r in range(rep):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    t0, u0 = time.perf_counter(), cpu()
    run([svt, "-q", "build", cap, "-o", os.path.join(work, "one")] + args)
    best["t1"] = min(best["t1"], time.perf_counter() - t0)
    best["c1"] = min(best["c1"], cpu() - u0)
    out = os.path.join(work, "two")
    t0, u0 = time.perf_counter(), cpu()
    ps = [subprocess.Popen([svt, "-q", "build", cap, "-o", out, "--rank", str(k), "--ranks",
                            "2"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
          for k in range(2)]
    rank_cpu = []
    for p in ps:
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            sys.exit("cluster bench: a rank failed")
        rank_cpu.append(ru.ru_utime + ru.ru_stime)
    if max(rank_cpu) < best["rmax"]:
        best["rmax"], best["rcpu"] = max(rank_cpu), rank_cpu
    best["t2"] = min(best["t2"], time.perf_counter() - t0)
    best["c2"] = min(best["c2"], sum(rank_cpu))
    t0, u0 = time.perf_counter(), cpu()
    r_ = subprocess.run([svt, "merge", out], check=True, capture_output=True, text=True)
    best["merge"] = min(best["merge"], time.perf_counter() - t0)
    best["cm"] = min(best["cm"], cpu() - u0)
    m_ = re.search(r"\(the twin ([0-9.]+) s\)", r_.stderr)
    best["twin"] = min(best["twin"], float(m_.group(1)) if m_ else 1e9)
    per_rank = [views(os.path.join(out, "rank-%d" % k)) for k in range(2)]
    assert views(out) == views(os.path.join(work, "one")), "the merge lost views"
shutil.rmtree(work, ignore_errors=True)
eff = best["t1"] / (2 * best["t2"])
frac = best["merge"] / best["t2"]
frac_sh = (best["merge"] - best["twin"]) / best["t2"]
bal = max(per_rank) / (sum(per_rank) / 2)
print("cluster  one rank %.2f s, two ranks %.2f s (views %d + %d: the busier rank cuts %.2fx "
      "its share), merge %.3f s" % (best["t1"], best["t2"], per_rank[0], per_rank[1], bal,
                                     best["merge"]))
print("cluster  parallel efficiency at 2 ranks %.2f (target >= 0.9: %s; at most %.2f with "
      "this balance), merge %.1f %% of the build (target < 5 %%: %s)"
      % (eff, "met" if eff >= 0.9 else "missed", 1 / bal, 100 * frac,
         "met" if frac < 0.05 else "missed"))
print("cluster  CPU time: one rank %.2f s, two ranks together %.2f s: work efficiency %.2f "
      "(what partitioning costs, whatever else loads the machine; load average %.1f)"
      % (best["c1"], best["c2"], best["c1"] / best["c2"], os.getloadavg()[0]))
print("cluster  CPU time per rank %.2f + %.2f s: the busier rank does %.2fx the mean; with a "
      "core for each of a rank's threads (no neighbours, no oversubscription) the efficiency "
      "would be one rank's CPU / (2 x the busier rank's) = %.2f"
      % (best["rcpu"][0], best["rcpu"][1], max(best["rcpu"]) / (sum(best["rcpu"]) / 2),
         best["c1"] / (2 * max(best["rcpu"]))))
print("cluster  of the merge: manifest + master file %.1f %% of the build, the twin's points "
      "%.1f %%" % (100 * frac_sh, 100 * best["twin"] / best["t2"]))
print("cluster  merge CPU time %.3f s: %.1f %% of the two ranks' CPU time (the figure a shared "
      "machine does not distort; target < 5 %%: %s)"
      % (best["cm"], 100 * best["cm"] / best["c2"], "met" if best["cm"] / best["c2"] < 0.05
         else "missed"))
