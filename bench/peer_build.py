#!/usr/bin/env python3
"""peer_build.py: the main job as a researcher would write it in Python, the peer that
`make bench` (scripts/bench.sh build) measures `svtwin build` against in the same run.

Same capture, same work, same stored datasets: every panorama with a GPS fix is decoded
(cv2.imread, libjpeg-turbo), its position projected with pyproj (EPSG:4326 -> EPSG:5186 and the
ENU frame of the first frame through PROJ's cart + topocentric), cut into a perspective view
looking along the direction of travel (numpy ray map + cv2.remap, bilinear); with depth, its
16-bit depth panorama is decoded (cv2.IMREAD_UNCHANGED), cut into a z-depth view (nearest),
stored as float16, and back-projected (every 4th pixel) into ENU points that are merged into
10 cm voxels per clip (np.unique) and saved. Clips of T consecutive frames go to HDF5 (h5py)
with svtwin's layout: frames uint8 [T,H,W,3] and depth float16 [T,H,W], one chunk per frame,
LZ4 (filter 32004, Debian's hdf5-filter-plugin) + Fletcher32; w2c, K, llh, proj, heading,
time_us beside them. With --procs N the clips are dealt out to N processes (one file each).

Prints one line: "peer frames=N clips=C seconds=S".
"""
import argparse
import glob
import math
import multiprocessing as mp
import os
import re
import sys
import time

import cv2
import h5py
import numpy as np
from PIL import Image
from pyproj import Transformer

LZ4 = 32004


def rot_from_hpr(h, p, r):
    """Camera-to-ENU rotation of a camera with heading, pitch, roll in degrees (OpenCV axes)."""
    h, p, r = (math.radians(a) for a in (h, p, r))
    ch, sh, cp, sp, cr, sr = math.cos(h), math.sin(h), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    base = np.array([[ch, 0, sh], [-sh, 0, ch], [0, -1, 0]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return base @ rx @ rz


def read_meta(path):
    """lat, lon, alt, time (s), heading, pitch, roll from EXIF GPS and the GPano XMP."""
    with Image.open(path) as im:
        exif = im.getexif()
        gps = exif.get_ifd(0x8825)
    if not gps or 2 not in gps or 4 not in gps:
        return None

    def deg(v):
        return float(v[0]) + float(v[1]) / 60 + float(v[2]) / 3600

    lat = deg(gps[2]) * (-1 if gps.get(1) == "S" else 1)
    lon = deg(gps[4]) * (-1 if gps.get(3) == "W" else 1)
    alt = float(gps.get(6, 0.0))
    if abs(lat) < 1e-6 and abs(lon) < 1e-6:
        return None
    t = 0.0
    if 7 in gps and 29 in gps:
        hh, mm, ss = (float(x) for x in gps[7])
        y, mo, d = (int(x) for x in gps[29].split(":"))
        t = time.mktime((y, mo, d, 0, 0, 0, 0, 0, 0)) + hh * 3600 + mm * 60 + ss
    head = open(path, "rb").read(65536)
    hpr = []
    for key in (b"PoseHeadingDegrees", b"PosePitchDegrees", b"PoseRollDegrees"):
        m = re.search(key + rb'[^0-9\-]*([-0-9.]+)', head)
        hpr.append(float(m.group(1)) if m else 0.0)
    return lat, lon, alt, t, hpr[0], hpr[1], hpr[2]


def depth_path(path):
    d, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    for sub in (".depth", "depth"):
        p = os.path.join(d, sub, stem + ".png")
        if os.path.exists(p):
            return p
    return None


def view_rays(W, H, fov):
    """Unit-z rays of the view's pixel centres, camera frame, [H, W, 3]."""
    f = 0.5 * W / math.tan(math.radians(fov) / 2)
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    rays = np.stack([(u - 0.5 * W) / f, (v - 0.5 * H) / f, np.ones_like(u)], -1)
    return rays.astype(np.float32), f


def remap_maps(rays, R, sw, sh):
    d = rays @ R.T.astype(np.float32)
    lon = np.arctan2(d[..., 0], d[..., 2])
    lat = np.arctan2(-d[..., 1], np.hypot(d[..., 0], d[..., 2]))
    mx = (lon * (sw / (2 * np.pi)) + 0.5 * sw - 0.5).astype(np.float32)
    my = (0.5 * sh - 0.5 - lat * (sh / np.pi)).astype(np.float32)
    return mx, my


def build_clips(args, clips, frames, part, out_path):
    rays, f = view_rays(args.width, args.height, args.fov)
    norm = np.linalg.norm(rays, axis=-1)
    W, H = args.width, args.height
    n_frames = 0
    with h5py.File(out_path, "w") as h5:
        g_clips = h5.create_group("clips")
        for ci in clips:
            fr = frames[ci * args.clip_frames:(ci + 1) * args.clip_frames]
            T = len(fr)
            g = g_clips.create_group("clip%05d" % ci)
            opts = dict(compression=LZ4, fletcher32=True)
            ds = g.create_dataset("frames", (T, H, W, 3), np.uint8, chunks=(1, H, W, 3), **opts)
            dd = None
            if args.depth:
                # svtwin's LZ4 pipeline for float16: shuffle, then LZ4 (docs/shard-format.md)
                dd = g.create_dataset("depth", (T, H, W), np.float16, chunks=(1, H, W),
                                      shuffle=True, **opts)
            w2c = np.zeros((T, 4, 4))
            pts = []
            for t, fm in enumerate(fr):
                img = cv2.imread(fm["path"], cv2.IMREAD_COLOR)
                Rp = rot_from_hpr(fm["heading"], fm["pitch"], fm["roll"])
                Rv = rot_from_hpr(fm["travel"], 0, 0)
                R = Rp.T @ Rv
                mx, my = remap_maps(rays, R, img.shape[1], img.shape[0])
                view = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
                ds[t] = cv2.cvtColor(view, cv2.COLOR_BGR2RGB)
                w2c[t, :3, :3] = Rv.T
                w2c[t, :3, 3] = -Rv.T @ fm["enu"]
                w2c[t, 3, 3] = 1
                if dd is not None:
                    dp = depth_path(fm["path"])
                    dz = np.zeros((H, W), np.float32)
                    if dp:
                        dm = cv2.imread(dp, cv2.IMREAD_UNCHANGED)
                        dx, dy = remap_maps(rays, R, dm.shape[1], dm.shape[0])
                        rng = cv2.remap(dm, dx, dy, cv2.INTER_NEAREST,
                                        borderMode=cv2.BORDER_WRAP).astype(np.float32) * 1e-3
                        ok = (rng >= 0.3) & (rng <= 65.535)
                        dz = np.where(ok, rng / norm, 0).astype(np.float32)
                        # Points: every 4th depth pixel along its ray, into ENU, with colours.
                        sub = dm[::4, ::4].astype(np.float32) * 1e-3
                        hh, ww = dm.shape
                        jj, ii = np.mgrid[0:hh:4, 0:ww:4]
                        lon = ((ii + 0.5) / ww - 0.5) * 2 * np.pi
                        lat = (0.5 - (jj + 0.5) / hh) * np.pi
                        dirs = np.stack([np.cos(lat) * np.sin(lon), -np.sin(lat),
                                         np.cos(lat) * np.cos(lon)], -1)
                        keep = (sub >= 0.3) & (sub <= 65.535)
                        p = (dirs[keep] * sub[keep, None]) @ Rp.T + fm["enu"]
                        cy = (jj[keep] * img.shape[0]) // hh
                        cx = (ii[keep] * img.shape[1]) // ww
                        pts.append(np.hstack([p, img[cy, cx, ::-1].astype(np.float64)]))
                    dd[t] = dz.astype(np.float16)
                n_frames += 1
            g.create_dataset("w2c", data=w2c, chunks=True, fletcher32=True)
            K = np.tile([f, f, 0.5 * W, 0.5 * H], (T, 1))
            g.create_dataset("K", data=K, chunks=True, fletcher32=True)
            g.create_dataset("llh", data=np.array([fm["llh"] for fm in fr]), chunks=True, fletcher32=True)
            g.create_dataset("proj", data=np.array([fm["proj"] for fm in fr]), chunks=True, fletcher32=True)
            g.create_dataset("heading", data=np.array([fm["travel"] for fm in fr]), chunks=True, fletcher32=True)
            g.create_dataset("time_us", data=np.array([int(fm["t"] * 1e6) for fm in fr]), chunks=True, fletcher32=True)
            if pts:
                P = np.vstack(pts)
                key = np.floor(P[:, :3] / 0.1).astype(np.int64)
                _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
                cnt = np.bincount(inv.ravel())
                mean = np.stack([np.bincount(inv.ravel(), P[:, c]) / cnt for c in range(6)], -1)
                np.save(out_path + ".clip%05d.points.npy" % ci, mean.astype(np.float32))
    return n_frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("out")
    ap.add_argument("--size", default="1280x704")
    ap.add_argument("--fov", type=float, default=90.0)
    ap.add_argument("--clip-frames", type=int, default=57)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--no-depth", dest="depth", action="store_false")
    args = ap.parse_args()
    args.width, args.height = (int(x) for x in args.size.split("x"))
    cv2.setNumThreads(1)  # one process, one core: the peer scales by processes
    t0 = time.time()
    paths = sorted(glob.glob(os.path.join(args.capture, "*.jpg")))
    frames = []
    for p in paths:
        m = read_meta(p)
        if m is None:
            continue
        frames.append(dict(path=p, lat=m[0], lon=m[1], alt=m[2], t=m[3], heading=m[4],
                           pitch=m[5], roll=m[6]))
    frames.sort(key=lambda f: f["t"])
    lat = np.array([f["lat"] for f in frames])
    lon = np.array([f["lon"] for f in frames])
    alt = np.array([f["alt"] for f in frames])
    tp = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
    E, N = tp.transform(lon, lat)
    te = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=cart "
        "+ellps=WGS84 +step +proj=topocentric +ellps=WGS84 +lon_0=%r +lat_0=%r +h_0=%r"
        % (lon[0], lat[0], alt[0]))
    e, n, u = te.transform(lon, lat, alt)
    for i, f in enumerate(frames):
        f["llh"] = (lat[i], lon[i], alt[i])
        f["proj"] = (E[i], N[i], alt[i])
        f["enu"] = np.array([e[i], n[i], u[i]])
        a, b = max(i - 1, 0), min(i + 1, len(frames) - 1)
        f["travel"] = math.degrees(math.atan2(e[b] - e[a], n[b] - n[a])) % 360.0
    nclips = len(frames) // args.clip_frames
    os.makedirs(args.out, exist_ok=True)
    parts = [list(range(p, nclips, args.procs)) for p in range(args.procs)]
    outs = [os.path.join(args.out, "peer-%05d.h5" % p) for p in range(args.procs)]
    if args.procs == 1:
        done = build_clips(args, parts[0], frames, 0, outs[0])
    else:
        with mp.get_context("fork").Pool(args.procs) as pool:
            done = sum(pool.starmap(build_clips, [(args, parts[p], frames, p, outs[p])
                                                  for p in range(args.procs)]))
    print("peer frames=%d clips=%d seconds=%.3f" % (done, nclips, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
