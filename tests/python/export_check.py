"""Independent checks of a `svtwin export cosmos` root against the shards it came from.

Reads the mp4s with PyAV (FFmpeg's decoder through Python, not svtwin's code), the shards
with h5py, the .npz files with numpy, and checks the Cosmos loaders' rules as they are written
(../shared/docs/ANCHORS.md section 7). Used by tests/python/test_export.py and, for the
transfer layout on a 16 fps synthetic dataset, by tests/test_export.c:

    python3 tests/python/export_check.py DATASET ROOT LAYOUT

prints one line per clip and exits 1 with the reason on the first failure.
"""

import glob
import json
import os
import sys

import av
import h5py
import numpy as np

PSNR_MIN_DB = 30.0       # RGB frames at CRF 18 (4:2:0 chroma costs the most on sharp edges)
DEPTH_GREY_MAX_ERR = 6   # grey levels: the depth control through 4:2:0 H.264 at CRF 18


def decode(path):
    """Frames (RGB uint8 [T,H,W,3]) and the container's frame rate."""
    with av.open(path) as c:
        s = c.streams.video[0]
        rate = float(s.average_rate) if s.average_rate else None
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        codec = s.codec_context.name
        pix = s.codec_context.pix_fmt
    return np.stack(frames), rate, codec, pix


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def caption(g):
    caps = [c["caption"].decode() if isinstance(c["caption"], bytes) else c["caption"]
            for c in g["captions"][:]]
    out = []
    for c in caps:
        if not out or out[-1] != c:
            out.append(c)
    return " ".join(out)


def check_video(path, frames, fps, what):
    got, rate, codec, pix = decode(path)
    assert codec == "h264" and pix == "yuv420p", f"{what}: {codec} {pix}, want h264 yuv420p"
    assert got.shape == frames.shape, f"{what}: decoded {got.shape}, shard {frames.shape}"
    assert rate is not None and abs(rate - fps) < 1e-3 * fps, f"{what}: {rate} fps, shard {fps}"
    worst = min(psnr(got[t], frames[t]) for t in range(len(frames)))
    return got, worst


def check_cameras(path, g):
    cam = np.loadtxt(path, ndmin=2)
    T = g["w2c"].shape[0]
    assert cam.shape == (T, 16), f"{path}: {cam.shape}, want ({T}, 16)"
    np.testing.assert_allclose(cam[:, :4], g["K"][:], rtol=1e-15, atol=0)
    w2c = g["w2c"][:]
    c2w = np.tile(np.eye(4), (T, 1, 1))
    c2w[:, :3, :] = cam[:, 4:].reshape(T, 3, 4)
    np.testing.assert_allclose(c2w, np.linalg.inv(w2c), atol=1e-9)


def depth_control(depth):
    """transfer2.5's depth control, computed here from its definition: per-clip min-max
    normalised inverse depth, 0 where depth is invalid."""
    d = depth.astype(np.float64)
    valid = d > 0
    inv = np.where(valid, 1.0 / np.where(valid, d, 1.0), 0.0)
    lo, hi = inv[valid].min(), inv[valid].max()
    g = (inv - lo) / (hi - lo) * 255.0 if hi > lo else np.full_like(inv, 255.0)
    return np.where(valid, np.clip(np.floor(g + 0.5), 0, 255), 0).astype(np.uint8)


def check_root(dataset, root, layout):
    with open(os.path.join(root, "manifest.jsonl")) as f:
        rows = [json.loads(l) for l in f]
    assert rows, f"{root}: empty manifest"
    splits = {r["split"] for r in rows}
    assert len(splits) == 1, f"{root}: splits mixed: {splits}"
    assert {r["layout"] for r in rows} == {layout}
    assert not glob.glob(os.path.join(root, "**", "*.tmp"), recursive=True), "a .tmp is left"
    if layout == "predict":
        assert not os.path.exists(os.path.join(root, "captions")), "captions/ in a predict root"
        stems = lambda d, ext: sorted(os.path.basename(p)[:-len(ext)]
                                      for p in glob.glob(os.path.join(root, d, "*" + ext)))
        assert stems("videos", ".mp4") == stems("metas", ".txt") == sorted(r["clip"] for r in rows)
    if layout == "transfer":
        assert not os.path.exists(os.path.join(root, "metas")), "metas/ in a transfer root"
    for r in rows:
        clip, T = r["clip"], r["frames"]
        with h5py.File(os.path.join(dataset, r["shard"]), "r") as f:
            g = f["clips"][clip]
            frames = g["frames"][:]
            fps = float(g.attrs["fps"])
            assert (T, r["height"], r["width"]) == frames.shape[:3]
            assert abs(r["fps"] - fps) < 1e-9 and r["split"] == g.attrs["split"]
            if layout == "predict":
                assert T >= 94, f"{clip}: {T} frames, predict2.5 needs >= 94"
                video = os.path.join(root, "videos", clip + ".mp4")
                with open(os.path.join(root, "metas", clip + ".txt")) as m:
                    assert m.read() == caption(g)
                cams = os.path.join(root, "cameras", clip + ".txt")
            elif layout == "transfer":
                assert T >= 93 and 10 <= fps <= 60 and T / fps >= 3, f"{clip}: {T} @ {fps}"
                video = os.path.join(root, "videos", clip + ".mp4")
                with open(os.path.join(root, "captions", clip + ".json")) as m:
                    assert json.load(m) == {"caption": caption(g)}
                cams = os.path.join(root, "cameras", clip + ".txt")
                if "depth" in g:
                    dv, _ = check_video(os.path.join(root, "depth", clip + ".mp4"),
                                        np.repeat(depth_control(g["depth"][:])[..., None], 3, -1),
                                        fps, clip + " depth")
                    err = np.abs(dv.astype(int) - np.repeat(
                        depth_control(g["depth"][:])[..., None], 3, -1).astype(int)).mean()
                    assert err < DEPTH_GREY_MAX_ERR, f"{clip}: depth control off by {err:.2f}"
            else:
                d = os.path.join(root, clip)
                video = os.path.join(d, "rgb.mp4")
                cams = os.path.join(d, "cameras.txt")
                depth = np.load(os.path.join(d, "depth.npz"))["depth"]
                assert depth.dtype == np.float16 and depth.shape == frames.shape[:3]
                assert np.array_equal(depth.view(np.uint16), g["depth"][:].view(np.uint16))
                mask = np.load(os.path.join(d, "mask.npz"))["mask"]
                assert mask.dtype == bool and np.array_equal(mask, g["depth"][:] > 0)
                cz = np.load(os.path.join(d, "camera.npz"))
                assert cz["w2c"].dtype == np.float32 and cz["w2c"].shape == (T, 4, 4)
                assert np.array_equal(cz["w2c"], g["w2c"][:].astype(np.float32))
                K = g["K"][:]
                Km = np.zeros((T, 3, 3), np.float32)
                Km[:, 0, 0], Km[:, 1, 1], Km[:, 0, 2], Km[:, 1, 2] = K[:, 0], K[:, 1], K[:, 2], K[:, 3]
                Km[:, 2, 2] = 1
                assert cz["intrinsics"].dtype == np.float32 and np.array_equal(cz["intrinsics"], Km)
            _, worst = check_video(video, frames, fps, clip)
            assert worst >= PSNR_MIN_DB, f"{clip}: PSNR {worst:.2f} dB < {PSNR_MIN_DB}"
            check_cameras(cams, g)
            print(f"ok {layout} {clip}: {T} frames {r['width']}x{r['height']} @ {fps:g} fps, "
                  f"worst PSNR {worst:.2f} dB")
    return rows


if __name__ == "__main__":
    try:
        check_root(sys.argv[1], sys.argv[2], sys.argv[3])
    except AssertionError as e:
        print(f"FAIL {e}")
        sys.exit(1)
