"""`make bench` part refs: the cost of references and warped views (svtwin build --refs).

Three capture runs of the generator (build/samples/runs): runs 0 and 2 go into a twin, then run
1 is built with references off (--refs 0) and on (--refs 5, warps), on one thread, three
interleaved rounds, the best of each (CPU seconds: the machine may be shared). Prints references and warps per CPU-second (one core)
and the build's CPU time with references on against off; the target is that references and
warps cost less than the rest of the build (ratio < 2). The CUDA path is not measured here
(--cpu: the fast C paths run).
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
if not os.path.exists(os.path.join(runs, "run1", "ground_truth.json")):
    print("skip refs: no capture runs in %s (make samples)" % runs)
    sys.exit(0)
X = tempfile.mkdtemp(prefix="svt-bench-refs-")
common = ["--clip-frames", "9", "--threads", "1", "--cpu", "--twin", os.path.join(X, "twin")]


def build(run, out, refs):
    u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([svt, "build", os.path.join(runs, run), "-o", os.path.join(X, out),
                        "--fresh", "--refs", str(refs)] + common, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
    m = re.search(r"(\d+) references .*?, (\d+) warped frames, \d+ frames without a warp, "
                  r"([0-9.]+) s", p.stderr)
    v = re.search(r"(\d+) views (\d+)x(\d+)", p.stderr)
    return cpu, wall, m, v


try:
    build("run0", "o0", 0)
    build("run2", "o2", 0)
    best = {0: (1e9, 1e9, None, None), 5: (1e9, 1e9, None, None)}
    for _ in range(3):
        for refs in (0, 5):
            r = build("run1", "o1_%d" % refs, refs)
            if r[0] < best[refs][0]:
                best[refs] = r
    off, on = best[0], best[5]
    views, W, H = int(on[3].group(1)), on[3].group(2), on[3].group(3)
    nref, nwarp, sref = int(on[2].group(1)), int(on[2].group(2)), float(on[2].group(3))
    print("refs    %d views %sx%s, one core (fast C path, --cpu): %d references + %d "
          "warped frames in %.2f s of the main thread: %.1f references/s with their warps, "
          "%.1f warps/s" % (views, W, H, nref, nwarp, sref, nref / sref, nwarp / sref))
    print("refs    build CPU %.2f s with references, %.2f s without: ratio %.2fx (target < 2: "
          "references and warps cost %s than the rest of the build)"
          % (on[0], off[0], on[0] / off[0], "less" if on[0] < 2 * off[0] else "MORE"))
finally:
    shutil.rmtree(X, ignore_errors=True)
