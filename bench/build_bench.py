#!/usr/bin/env python3
"""build_bench.py: `make bench` part `build` (scripts/bench.sh): `svtwin build` against the
Python peer (bench/peer_build.py) and libjpeg-turbo's decode, all measured in this run on the
same capture, and the ratios against the targets of issue 10. Wall-clock seconds, best of
BENCH_REPEAT rounds (default 1), with the CPU seconds of that run (the child's user + system:
what the work costs, whatever else the machine runs). A round runs every command once, in
turn, so that a machine that speeds up or slows down between rounds (a shared VM does, by a
quarter) moves every figure of the round alike, not one side of a ratio. Never a test: it
prints, it does not assert.

usage: build_bench.py SVTWIN CAPTURE WORKDIR
"""
import glob
import os
import resource
import shutil
import subprocess
import sys
import time

import cv2

PLUGINS = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"


CPU = {}  # command tag -> CPU seconds of its best run
BEST = {}  # command tag -> best wall seconds


def timed(cmd, env=None, tag=None):
    """One run of cmd; its wall seconds kept under tag when they are its best."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    dt = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.stderr.write(r.stdout.decode(errors="replace"))
        raise SystemExit("failed: %s" % " ".join(cmd))
    if tag not in BEST or dt < BEST[tag]:
        BEST[tag] = dt
        CPU[tag] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return dt


def main():
    svtwin, capture, work = sys.argv[1:4]
    cores = os.cpu_count() or 1
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    # The same capture without its depth maps: every panorama, no .depth/.
    nodepth = os.path.join(work, "capture")
    os.makedirs(nodepth)
    jpgs = sorted(glob.glob(os.path.join(capture, "*.jpg")))
    for p in jpgs:
        os.symlink(os.path.abspath(p), os.path.join(nodepth, os.path.basename(p)))
    for extra in ("track.gpx",):
        if os.path.exists(os.path.join(capture, extra)):
            os.symlink(os.path.abspath(os.path.join(capture, extra)), os.path.join(nodepth, extra))

    def svt(cap, threads, tag):
        out = os.path.join(work, "svt-" + tag)
        shutil.rmtree(out, ignore_errors=True)
        return timed([svtwin, "-q", "build", cap, "-o", out, "--fresh", "--cpu", "--codec",
                      "lz4", "--threads", str(threads)], tag="svt-" + tag)

    def peer(cap, procs, depth, tag):
        out = os.path.join(work, "peer-" + tag)
        shutil.rmtree(out, ignore_errors=True)
        env = dict(os.environ, HDF5_PLUGIN_PATH=PLUGINS)
        cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "peer_build.py"), cap,
               out, "--procs", str(procs)] + ([] if depth else ["--no-depth"])
        return timed(cmd, env, tag="peer-" + tag)

    # libjpeg-turbo decode-only (OpenCV's imdecode links Debian's libjpeg62-turbo), one core,
    # the files already in memory.
    import numpy as np
    cv2.setNumThreads(1)
    blobs = [np.frombuffer(open(p, "rb").read(), np.uint8) for p in jpgs]
    dec = {}

    def decode_only():
        t0 = time.time()
        c0 = time.process_time()
        ok = sum(cv2.imdecode(b, cv2.IMREAD_COLOR) is not None for b in blobs)
        dt = time.time() - t0
        if "t" not in dec or dt < dec["t"]:
            dec.update(t=dt, c=time.process_time() - c0, ok=ok)

    for _ in range(int(os.environ.get("BENCH_REPEAT", "1"))):
        decode_only()
        svt(capture, cores, "depth")
        svt(nodepth, cores, "nodepth")
        svt(capture, 1, "t1")
        if cores != 2:
            svt(capture, 2, "t2")
        peer(capture, 1, True, "1")
        peer(capture, cores, True, "n")
        peer(nodepth, 1, False, "1-nodepth")
        peer(nodepth, cores, False, "n-nodepth")
    t_dec, c_dec, ok = dec["t"], dec["c"], dec["ok"]
    t_all, t_nod, t_1 = BEST["svt-depth"], BEST["svt-nodepth"], BEST["svt-t1"]
    t_2 = t_all if cores == 2 else BEST["svt-t2"]
    p1, pn = BEST["peer-1"], BEST["peer-n"]
    p1n, pnn = BEST["peer-1-nodepth"], BEST["peer-n-nodepth"]

    n = len(jpgs)
    print("capture %s: %d panoramas, %d cores; wall seconds, best of %s rounds" %
          (capture, n, cores, os.environ.get("BENCH_REPEAT", "1")))
    def cpu(tag):
        return " (%6.2f s CPU)" % CPU[tag] if tag in CPU else ""

    print("  svtwin build, %d threads, depth     %7.2f s%s" % (cores, t_all, cpu("svt-depth")))
    print("  svtwin build, %d threads, no depth  %7.2f s%s" % (cores, t_nod, cpu("svt-nodepth")))
    print("  svtwin build, 1 thread, depth       %7.2f s%s" % (t_1, cpu("svt-t1")))
    print("  peer, 1 process, depth              %7.2f s%s" % (p1, cpu("peer-1")))
    print("  peer, %d processes, depth           %7.2f s%s" % (cores, pn, cpu("peer-n")))
    print("  peer, 1 process, no depth           %7.2f s%s" % (p1n, cpu("peer-1-nodepth")))
    print("  peer, %d processes, no depth        %7.2f s%s" % (cores, pnn, cpu("peer-n-nodepth")))
    print("  libjpeg-turbo decode only, 1 core   %7.2f s (%6.2f s CPU; %d decoded)" %
          (t_dec, c_dec, ok))
    print("  load average at the end: %.2f %.2f %.2f" % os.getloadavg())

    def line(name, value, target, better_high=True):
        met = value >= target if better_high else value <= target
        print("  %-52s %6.2fx  (target %s %.2f: %s)" %
              (name, value, ">=" if better_high else "<=", target, "met" if met else "MISSED"))

    print("ratios:")
    line("svtwin all cores vs peer 1 process, depth", p1 / t_all, 5.0)
    line("svtwin all cores vs peer 1 process, no depth", p1n / t_nod, 5.0)
    line("svtwin all cores vs peer %d processes, depth" % cores, pn / t_all, 2.0)
    line("svtwin all cores vs peer %d processes, no depth" % cores, pnn / t_nod, 2.0)
    line("svtwin per core vs decode-only per core", (n / (t_all * cores)) / (n / t_dec), 0.5)
    # Without depth svtwin reads only the JPEGs, the files the reference decodes.
    line("svtwin per core vs decode-only, no depth", (n / (t_nod * cores)) / (n / t_dec), 0.5)
    # The same from CPU seconds (load-independent): one build's CPU against the decode's.
    if "svt-t1" in CPU and c_dec > 0:
        line("  by CPU time: 1-thread build vs decode-only", c_dec / CPU["svt-t1"], 0.5)
    if "svt-nodepth" in CPU and c_dec > 0:
        line("  by CPU time: no-depth build vs decode-only", c_dec / CPU["svt-nodepth"], 0.5)
    line("depth on vs off (svtwin)", t_all / t_nod, 1.3, better_high=False)
    line("parallel efficiency at 2 threads", t_1 / (2 * t_2), 0.9)
    return 0


if __name__ == "__main__":
    sys.exit(main())
