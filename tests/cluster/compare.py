#!/usr/bin/python3
"""Compares two svtwin datasets clip for clip and frame for frame: clip ids, every clip's
arrays (frames, depth, poses, intrinsics, positions, times; its references: every array under
refs/ (sources, runs, poses, pixels, depth) and the warped views) by SHA-256 and its
attributes, and their twins (DIR/twin, or the twins given): the same tiles with the same frame and point counts, and the same fused points
(LAS 1.4 point records: coordinates within 1 mm, colours exact). Used by tests/test_cluster.sh to
check a cluster build against the one-rank build of the same capture.

usage: compare.py REF_DIR OTHER_DIR [SVTWIN [REF_TWIN OTHER_TWIN]]
exit 0 when equal, 1 with the differences."""
import hashlib, json, os, struct, subprocess, sys, tempfile

import h5py
import numpy as np

ARRAYS = ("frames", "frames_jpeg", "depth", "w2c", "K", "llh", "proj", "heading", "dist_m",
          "time_us")
ATTRS = ("split", "district", "fps", "num_frames", "width", "height", "has_depth")


NREFS = {}  # references per dataset


def clip_digests(d):
    out = {}
    with h5py.File(os.path.join(d, "master.h5"), "r") as f:
        for cid in f["clips"]:
            g = f["clips"][cid]
            h = {}
            for a in ARRAYS:
                if a in g:
                    h[a] = hashlib.sha256(np.ascontiguousarray(g[a][()]).tobytes()).hexdigest()
            for a in ATTRS:
                if a in g.attrs:
                    v = g.attrs[a]
                    h["@" + a] = v.decode() if isinstance(v, bytes) else str(v)

            def more(name, obj):
                if isinstance(obj, h5py.Dataset) and (name.startswith("refs/") or
                                                      name.startswith("warp")):
                    h[name] = hashlib.sha256(np.ascontiguousarray(obj[()]).tobytes()).hexdigest()
                    if name == "refs/timestamps":
                        NREFS[d] = NREFS.get(d, 0) + obj.shape[0]
            g.visititems(more)
            out[cid] = h
    return out


def las_points(path):
    with open(path, "rb") as f:
        b = f.read()
    off = struct.unpack_from("<I", b, 96)[0]
    rl = struct.unpack_from("<H", b, 105)[0]
    n = struct.unpack_from("<Q", b, 247)[0]
    scale = struct.unpack_from("<3d", b, 131)
    offs = struct.unpack_from("<3d", b, 155)
    rec = np.frombuffer(b, dtype=np.uint8, count=n * rl, offset=off).reshape(n, rl)
    xyz = rec[:, 0:12].copy().view("<i4").astype(np.float64) * np.array(scale) + np.array(offs)
    rgb = rec[:, 30:36].copy().view("<u2")
    # Sorted on a 1 mm grid: voxel means of two fusions differ by float rounding (1e-5 m),
    # which must not reorder points that tie on a coordinate.
    q = np.round(xyz * 1000).astype(np.int64)
    order = np.lexsort((q[:, 2], q[:, 1], q[:, 0]))
    return xyz[order], rgb[order]


def points_match(xa, ca, xb, cb, tol=1e-3):
    """Equal point sets up to tol metres, colours within one 8-bit step (257 in LAS 16-bit):
    sorted alike, then the few points
    a rounding boundary put out of order matched among themselves."""
    if len(xa) != len(xb):
        return "twin points: %d vs %d" % (len(xa), len(xb))
    off = np.nonzero((np.abs(xa - xb).max(axis=1) > tol) |
                     (np.abs(ca.astype(int) - cb).max(axis=1) > 257))[0]
    if len(off) > 10000:
        return "twin points differ: %d of %d out of place" % (len(off), len(xa))
    used = np.zeros(len(off), bool)
    for i in off:
        d = np.abs(xb[off] - xa[i]).max(axis=1)
        d[used] = np.inf
        d[np.abs(cb[off].astype(int) - ca[i]).max(axis=1) > 257] = np.inf
        k = int(np.argmin(d))
        if d[k] > tol:
            return "twin point %s (colour %s) has no match within %g m" % (xa[i], ca[i], tol)
        used[k] = True
    return None


def twin_compare(a, b, svt, problems):
    def tiles(d):
        r = subprocess.run([svt, "query", d, "--tiles"], check=True,
                           capture_output=True, text=True)
        t = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        for x in t:
            x.pop("gen", None)  # generations count a store's own writes
        return t
    ta, tb = tiles(a), tiles(b)
    if ta != tb:
        problems.append("twin tiles differ: %d vs %d tiles; first difference %s"
                        % (len(ta), len(tb), next(((x, y) for x, y in zip(ta, tb) if x != y),
                                                  None)))
        return
    with tempfile.TemporaryDirectory() as t:
        pa, pb = os.path.join(t, "a.las"), os.path.join(t, "b.las")
        for d, p in ((a, pa), (b, pb)):
            subprocess.run([svt, "-q", "query", d, "--points", p],
                           check=True, capture_output=True)
        xa, ca = las_points(pa)
        xb, cb = las_points(pb)
    p = points_match(xa, ca, xb, cb)
    if p:
        problems.append(p)


def main():
    a, b = sys.argv[1], sys.argv[2]
    svt = sys.argv[3] if len(sys.argv) > 3 else "build/svtwin"
    da, db = clip_digests(a), clip_digests(b)
    problems = []
    if sorted(da) != sorted(db):
        problems.append("clip ids differ: only in %s: %s; only in %s: %s"
                        % (a, sorted(set(da) - set(db))[:5], b, sorted(set(db) - set(da))[:5]))
    for cid in sorted(set(da) & set(db)):
        if da[cid] != db[cid]:
            k = [x for x in da[cid] if da[cid].get(x) != db[cid].get(x)]
            problems.append("clip %s differs in %s" % (cid, k))
    twa, twb = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else \
        (os.path.join(a, "twin"), os.path.join(b, "twin"))
    twin_compare(twa, twb, svt, problems)
    for p in problems:
        print("DIFF " + p)
    nf = sum(1 for _ in da)
    if not problems:
        print("same: %d clips, every array and attribute (%d references), and the twin"
              % (nf, NREFS.get(a, 0)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
