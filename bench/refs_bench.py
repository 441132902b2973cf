"""`make bench` part refs: the cost of references and warped views (svtwin build --refs).

Two set-ups, each three capture runs of the generator: runs 0 and 2 go into a twin, then run 1
is built with references off (--refs 0) and on (--refs 5, with warps), on one thread, three
interleaved rounds, the best of each (CPU seconds: the machine may be shared):
- "dense": the samples' runs (build/samples/runs, 24 frames) in 9-frame clips: 5 references
  per 9 frames, more than any training recipe draws;
- "recipe": 64-frame runs generated here, in the default 57-frame clips (1 + 8k for Cosmos
  tokenizers): 5 references (+ the lookahead) per clip, the Seoul World Model recipe's K = 5
  per chunk (its chunks are 77 frames).
The target (issue 13): references and warps cost less than the views themselves. The build
prints both as CPU seconds (the references' decode, views, coverage and warps on the main
thread; the clips' decode, colour and depth views on the workers, the twin's depth points left
out), so the ratio printed is refs CPU / views CPU (target < 1); also the whole build's CPU on
against off. The CUDA path is not measured here (--cpu: the fast C paths run).
"""
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

svt, runs = sys.argv[1], sys.argv[2]
gen = os.path.join(os.path.dirname(svt), "svtwin-samples")
if not os.path.exists(os.path.join(runs, "run1", "ground_truth.json")):
    print("skip refs: no capture runs in %s (make samples)" % runs)
    sys.exit(0)
X = tempfile.mkdtemp(prefix="svt-bench-refs-")


def build(runs, run, out, refs, clip):
    u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([svt, "build", os.path.join(runs, run), "-o", os.path.join(X, out),
                        "--fresh", "--refs", str(refs), "--clip-frames", str(clip),
                        "--threads", "1", "--cpu", "--twin", twin],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
    m = re.search(r"(\d+) references .*?, (\d+) warped frames, \d+ frames without a warp, "
                  r"([0-9.]+) s \(([0-9.]+) s CPU; the clips' own views ([0-9.]+) s CPU\)",
                  p.stderr)
    v = re.search(r"(\d+) views (\d+)x(\d+)", p.stderr)
    return cpu, wall, m, v


def setup(name, runs, clip):
    global twin
    twin = os.path.join(X, name + "-twin")
    build(runs, "run0", name + "-o0", 0, clip)
    build(runs, "run2", name + "-o2", 0, clip)
    best = {0: (1e9, 1e9, None, None), 5: (1e9, 1e9, None, None)}
    for _ in range(3):
        for refs in (0, 5):
            r = build(runs, "run1", "%s-o1_%d" % (name, refs), refs, clip)
            if r[0] < best[refs][0]:
                best[refs] = r
    off, on = best[0], best[5]
    if not on[2]:
        sys.exit("refs bench: no reference line in the build's summary")
    views, W, H = int(on[3].group(1)), on[3].group(2), on[3].group(3)
    nref, nwarp, sref = int(on[2].group(1)), int(on[2].group(2)), float(on[2].group(3))
    cref, cviews = float(on[2].group(4)), float(on[2].group(5))
    print("refs    %-6s %d views %sx%s in %d-frame clips, one core (fast C path, --cpu): %d "
          "references + %d warped frames in %.2f s CPU: %.1f references/s with their warps, "
          "%.1f warps/s" % (name, views, W, H, clip, nref, nwarp, cref, nref / cref,
                            nwarp / cref))
    print("refs    %-6s references and warps %.2f s CPU against the views' %.2f s CPU: %.2f "
          "(target < 1: %s); the whole build %.2f s CPU with references, %.2f s without: %.2fx"
          % (name, cref, cviews, cref / cviews, "met" if cref < cviews else "missed",
             on[0], off[0], on[0] / off[0]))


try:
    setup("dense", runs, 9)
    long_runs = os.path.join(X, "runs64")
    for r in range(3):
        subprocess.run([gen, "--out", os.path.join(long_runs, "run%d" % r), "--seed", "1",
                        "--run", str(r), "--frames", "64", "--width", "1024", "--no-bad", "-q"],
                       check=True)
    setup("recipe", long_runs, 57)
finally:
    shutil.rmtree(X, ignore_errors=True)
