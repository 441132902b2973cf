#!/usr/bin/python3
"""Peer for `svtwin bench kernels`: OpenCV's cv2.remap cutting the same perspective view from
the same panorama, map computation included (numpy float32, as a Python data loader does it).

usage: kernels_remap.py PANO.(ppm|png|jpg) WIDTH HEIGHT HFOV_DEG YAW PITCH SECONDS
Prints one JSON line: {"ms_map_remap": ..., "ms_remap": ..., "threads": 1, "opencv": "..."}.
One thread (cv2.setNumThreads(1)), INTER_LINEAR, BORDER_WRAP, median of timed repetitions.
"""
import json
import sys
import time

import cv2
import numpy as np


def rot(yaw, pitch):
    y, p = np.radians(yaw), np.radians(pitch)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return (ry @ rx).astype(np.float32)


def maps(W, H, w, h, hfov, R):
    f = 0.5 * w / np.tan(np.radians(hfov) / 2)
    x = ((np.arange(w, dtype=np.float32) + 0.5 - w / 2) / f)[None, :]
    y = ((np.arange(h, dtype=np.float32) + 0.5 - h / 2) / f)[:, None]
    dx = R[0, 0] * x + R[0, 1] * y + R[0, 2]
    dy = R[1, 0] * x + R[1, 1] * y + R[1, 2]
    dz = R[2, 0] * x + R[2, 1] * y + R[2, 2]
    lon = np.arctan2(dx, dz)
    lat = np.arctan2(-dy, np.sqrt(dx * dx + dz * dz))
    mx = (lon * np.float32(W / (2 * np.pi)) + np.float32(W / 2 - 0.5)).astype(np.float32)
    my = (np.float32(H / 2 - 0.5) - lat * np.float32(H / np.pi)).astype(np.float32)
    return mx, my


def timed(fn, seconds):
    fn()
    reps = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(reps) < 5:
        t0 = time.perf_counter()
        fn()
        reps.append(time.perf_counter() - t0)
    return float(np.median(reps)) * 1e3


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    path = sys.argv[1]
    w, h = int(sys.argv[2]), int(sys.argv[3])
    hfov, yaw, pitch, seconds = map(float, sys.argv[4:8])
    cv2.setNumThreads(1)
    pano = cv2.imread(path, cv2.IMREAD_COLOR)
    if pano is None:
        sys.exit("cannot read " + path)
    H, W = pano.shape[:2]
    R = rot(yaw, pitch)

    def full():
        mx, my = maps(W, H, w, h, hfov, R)
        return cv2.remap(pano, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)

    mx, my = maps(W, H, w, h, hfov, R)
    t_full = timed(full, seconds / 2)
    t_remap = timed(lambda: cv2.remap(pano, mx, my, cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_WRAP), seconds / 2)
    print(json.dumps({"ms_map_remap": t_full, "ms_remap": t_remap, "threads": 1,
                      "opencv": cv2.__version__, "W": W, "H": H}))


if __name__ == "__main__":
    main()
