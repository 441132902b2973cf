"""The Python loader against shards written by `svtwin build` on the generated samples.

Needs SVT_BUILD (the build directory holding the svtwin program) and SVT_SAMPLES (the sample
capture); skips, saying so, without them. Runs with Debian's /usr/bin/python3 (h5py 3.7).
"""

import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import h5py
import numpy as np

import svtwin
from svtwin import loader

BUILD = os.environ.get("SVT_BUILD")
SAMPLES = os.environ.get("SVT_SAMPLES")
CLIP_FRAMES = 57  # `svtwin build`'s default clip length (Cosmos 1+8k)


def _svtwin():
    return os.path.join(BUILD, "svtwin")


def setUpModule():
    global OUT, OUT_BLOSC, GT
    if not BUILD or not SAMPLES or not os.path.exists(_svtwin()) or \
            not os.path.exists(os.path.join(SAMPLES, "ground_truth.json")):
        raise unittest.SkipTest("SVT_BUILD (with svtwin built) and SVT_SAMPLES (generated "
                                "samples) are needed: run through `make test-python`")
    OUT = tempfile.mkdtemp(prefix="svt-py-")
    subprocess.run([_svtwin(), "build", SAMPLES, "-o", OUT], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    OUT_BLOSC = None
    with open(os.path.join(SAMPLES, "ground_truth.json")) as f:
        GT = json.load(f)


def tearDownModule():
    for d in (globals().get("OUT"), globals().get("OUT_BLOSC")):
        if d:
            shutil.rmtree(d, ignore_errors=True)


def _good_frames():
    return [fr for fr in GT["frames"] if fr["expect"] == "ok"]


def _read_sample(args):
    ds, i = args
    s = ds[i]
    return s["clip_id"], int(s["frames"].astype(np.uint64).sum()), s["timestamps"].tolist()


class LoaderOnBuiltShards(unittest.TestCase):
    def test_counts_match_ground_truth(self):
        ds = svtwin.ClipDataset(OUT)
        good = _good_frames()
        self.assertEqual(len(ds), len(good) // CLIP_FRAMES)
        self.assertEqual(sum(n for _, _, _, n in ds.samples),
                         (len(good) // CLIP_FRAMES) * CLIP_FRAMES)
        with open(os.path.join(OUT, "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual(m["total_clips"], len(ds))

    def test_sample_matches_ground_truth_and_shard(self):
        ds = svtwin.ClipDataset(OUT)
        good = _good_frames()
        s = ds[0]
        n = CLIP_FRAMES
        self.assertEqual(s["frames"].shape, (n, 704, 1280, 3))
        self.assertEqual(s["frames"].dtype, np.uint8)
        self.assertEqual(s["w2c"].shape, (n, 4, 4))
        self.assertEqual(s["K"].shape, (n, 4))
        self.assertEqual(s["timestamps"].dtype, np.int64)
        # The first clip holds the first good frames, in capture order.
        self.assertEqual(s["timestamps"].tolist(), [fr["time_us"] for fr in good[:n]])
        np.testing.assert_allclose(s["llh"][:, 0], [fr["lat"] for fr in good[:n]], atol=1e-9)
        np.testing.assert_array_equal(s["w2c"][:, 3], np.tile([0, 0, 0, 1.0], (n, 1)))
        # Bitwise what h5py reads directly from the shard.
        with h5py.File(ds.paths[0], "r") as f:
            g = f["clips"][s["clip_id"]]
            np.testing.assert_array_equal(g["frames"][:], s["frames"])
            np.testing.assert_array_equal(g["w2c"][:], s["w2c"])
            np.testing.assert_array_equal(g["K"][:], s["K"])
            self.assertEqual(g["frames"].chunks, (1, 704, 1280, 3))
            self.assertTrue(g["frames"].fletcher32)
        self.assertGreater(s["frames"].std(), 5.0, "frames look blank")

    def test_windows_and_random_frames(self):
        ds = svtwin.ClipDataset(OUT, window=9, stride=8)
        whole = svtwin.ClipDataset(OUT)
        per_clip = (CLIP_FRAMES - 9) // 8 + 1
        self.assertEqual(len(ds), per_clip * len(whole))
        s = ds[per_clip + 1]  # second clip, t0 = 8
        self.assertEqual(s["t0"], 8)
        w = whole[1]
        np.testing.assert_array_equal(s["frames"], w["frames"][8:17])
        np.testing.assert_array_equal(s["timestamps"], w["timestamps"][8:17])
        np.testing.assert_array_equal(ds.read_frame(per_clip + 1, 3), w["frames"][11])

    def test_master_file_reads_as_one(self):
        ds = svtwin.ClipDataset(os.path.join(OUT, "master.h5"))
        direct = svtwin.ClipDataset(OUT)
        self.assertEqual(len(ds), len(direct))
        np.testing.assert_array_equal(ds[len(ds) - 1]["frames"][-1],
                                      direct[len(ds) - 1]["frames"][-1])

    def test_index_without_pixels(self):
        idx = svtwin.read_index(os.path.join(OUT, "master.h5"))
        self.assertIn("lat_c", idx.dtype.names)
        self.assertTrue(np.all(idx["num_frames"] == CLIP_FRAMES))
        self.assertTrue(np.all(np.abs(idx["lat0"] - 37.57) < 0.05))
        with h5py.File(os.path.join(OUT, "master.h5"), "r") as f:
            masks = sum(len(f["mask"][k]) for k in ("train", "val", "test"))
        self.assertEqual(masks, len(idx))

    def test_no_file_opened_before_fork_and_workers_read(self):
        ds = svtwin.ClipDataset(OUT)
        self.assertEqual(ds._files, {}, "the constructor left an HDF5 file open")
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            got = pool.map(_read_sample, [(ds, i) for i in range(len(ds))])
        self.assertEqual(ds._files, {}, "workers' reads opened files in the parent")
        for i, (cid, total, ts) in enumerate(got):
            s = ds[i]
            self.assertEqual(cid, s["clip_id"])
            self.assertEqual(total, int(s["frames"].astype(np.uint64).sum()))
            self.assertEqual(ts, s["timestamps"].tolist())
        # A handle opened in the parent is not reused by a forked child.
        pid_before = ds._pid
        with ctx.Pool(1) as pool:
            pool.map(_read_sample, [(ds, 0)])
        self.assertEqual(ds._pid, pid_before)

    def test_chunk_cache_is_raised(self):
        ds = svtwin.ClipDataset(OUT, cache_frames=4)
        ds[0]
        f = ds._files[0]
        nslots, nbytes, w0 = f.id.get_access_plist().get_cache()[1:]
        self.assertGreaterEqual(nbytes, 4 * 704 * 1280 * 3)

    def test_missing_filter_is_reported_clearly(self):
        with mock.patch.object(loader, "_filter_avail", return_value=False):
            with self.assertRaises(svtwin.FilterMissing) as cm:
                svtwin.ClipDataset(OUT)
        if svtwin.ClipDataset(OUT).codec != "none":
            self.assertIn("hdf5plugin", str(cm.exception))
            self.assertIn("hdf5-filter-plugin", str(cm.exception))

    def test_verify_and_inspect_cli(self):
        r = subprocess.run([_svtwin(), "verify", OUT], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([_svtwin(), "inspect", os.path.join(OUT, "master.h5")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("world_to_camera", r.stdout)
        # A damaged copy fails verification with exit status 1.
        bad = tempfile.mkdtemp(prefix="svt-py-bad-")
        try:
            for n in os.listdir(OUT):
                if n.endswith(".h5") or n == "manifest.json":
                    shutil.copy(os.path.join(OUT, n), bad)
            shard = svtwin.shard_paths(bad)[0]
            with open(shard, "r+b") as f:
                f.seek(os.path.getsize(shard) // 2)
                b = f.read(1)
                f.seek(-1, 1)
                f.write(bytes([b[0] ^ 0xFF]))
            r = subprocess.run([_svtwin(), "verify", bad], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("FAIL", r.stdout)
        finally:
            shutil.rmtree(bad, ignore_errors=True)


class OtherCodecs(unittest.TestCase):
    def test_blosc_zstd_and_gzip_shards_read_in_h5py(self):
        # zstd: Debian 12 has no plugin for it; scripts/install-deps.sh links PyPI hdf5plugin's
        # into Debian's plugin directory, where this h5py finds it with no HDF5_PLUGIN_PATH.
        for codec in ("blosc", "zstd", "gzip"):
            with self.subTest(codec=codec):
                self._codec_reads(codec)

    def _codec_reads(self, codec):
        fid = svtwin.CODEC_FILTERS[codec]
        if not h5py.h5z.filter_avail(fid):
            self.skipTest("HDF5 filter %d (%s) is not installed" % (fid, codec))
        out = tempfile.mkdtemp(prefix="svt-py-%s-" % codec)
        try:
            subprocess.run([_svtwin(), "build", SAMPLES, "-o", out, "--codec", codec,
                            "--size", "768x432"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ds = svtwin.ClipDataset(out)
            self.assertEqual(ds.codec, codec)
            s = ds[0]
            self.assertEqual(s["frames"].shape, (CLIP_FRAMES, 432, 768, 3))
            self.assertGreater(s["frames"].std(), 5.0)
            r = subprocess.run([_svtwin(), "verify", out], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout)
        finally:
            shutil.rmtree(out, ignore_errors=True)


class NoSamplesNeeded(unittest.TestCase):
    def test_check_filters(self):
        svtwin.check_filters("none")
        svtwin.check_filters("gzip")
        with self.assertRaises(ValueError):
            svtwin.check_filters("lzma")


class NeverSilentlyEmpty(unittest.TestCase):
    """The loader raises with the reason instead of returning an empty dataset."""

    def test_unknown_split_name(self):
        with self.assertRaises(ValueError) as cm:
            svtwin.ClipDataset(OUT, splits=["trian"])
        self.assertIn("'trian'", str(cm.exception))
        self.assertIn("train, val, test", str(cm.exception))

    def test_window_longer_than_every_clip(self):
        longest = max(int(r["num_frames"]) for r in svtwin.read_index(
            os.path.join(OUT, "master.h5")))
        with self.assertRaises(ValueError) as cm:
            svtwin.ClipDataset(OUT, window=longest + 1)
        self.assertIn("longer than every clip", str(cm.exception))
        self.assertIn("%d frames" % longest, str(cm.exception))
        self.assertGreater(len(svtwin.ClipDataset(OUT, window=longest)), 0)
        with self.assertRaises(ValueError):
            svtwin.ClipDataset(OUT, window=0)

    def test_split_without_clips(self):
        index = svtwin.read_index(os.path.join(OUT, "master.h5"))
        held = {r["split"].decode() for r in index}
        empty = [s for s in loader.SPLITS if s not in held]
        if not empty:
            self.skipTest("the sample dataset has clips in every split")
        with self.assertRaises(ValueError) as cm:
            svtwin.ClipDataset(OUT, splits=[empty[0]])
        self.assertIn("no clip in split %s" % empty[0], str(cm.exception))

    def test_directory_without_manifest(self):
        d = tempfile.mkdtemp(prefix="svt-py-nomani-")
        try:
            with self.assertRaises(FileNotFoundError) as cm:
                svtwin.ClipDataset(d)
            self.assertIn("no manifest.json", str(cm.exception))
            shard = [n for n in os.listdir(OUT) if n.endswith(".h5") and n != "master.h5"][0]
            shutil.copy(os.path.join(OUT, shard), d)
            with self.assertRaises(FileNotFoundError) as cm:
                svtwin.ClipDataset(d)
            self.assertIn("did not finish", str(cm.exception))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_missing_h5py_names_the_interpreter(self):
        code = ("import sys; sys.modules['h5py'] = None\n"
                "try:\n    import svtwin\nexcept ImportError as e:\n    print(e)\n")
        env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "python"))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env)
        self.assertIn("needs h5py", r.stdout)
        self.assertIn("/usr/bin/python3", r.stdout)
        self.assertIn(sys.executable, r.stdout)


if __name__ == "__main__":
    unittest.main()
