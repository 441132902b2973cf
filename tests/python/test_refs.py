"""The loader's references and warps (svtwin build --refs) on two capture runs of the
generator (build/samples/runs, `make samples`): run 1's clips draw their references from run 0.

Needs SVT_BUILD; skips, saying so, without the runs.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

from svtwin import loader

BUILD = os.environ.get("SVT_BUILD")


def setUpModule():
    global OUT, TMP
    runs = os.path.join(BUILD or "", "samples", "runs")
    if not BUILD or not os.path.exists(os.path.join(runs, "run1", "ground_truth.json")):
        raise unittest.SkipTest("SVT_BUILD with the capture runs (make samples) is needed")
    TMP = tempfile.mkdtemp(prefix="svt-refs-")
    twin = os.path.join(TMP, "twin")
    for run in ("run0", "run1"):
        subprocess.run([os.path.join(BUILD, "svtwin"), "build", os.path.join(runs, run),
                        "-o", os.path.join(TMP, run), "--twin", twin, "--clip-frames", "9",
                        "--size", "160x96", "--threads", "2", "--ref-min-gap", "86400"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    OUT = os.path.join(TMP, "run1")


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


class RefsTest(unittest.TestCase):
    def test_items_carry_refs_and_warps(self):
        ds = loader.ClipDataset(OUT, window=4, min_refs=1)
        self.assertGreater(len(ds), 0)
        it = ds[0]
        R = it["refs"].shape[0]
        self.assertGreaterEqual(R, 2)
        self.assertEqual(it["refs"].shape, (R, 96, 160, 3))
        self.assertEqual(it["ref_w2c"].shape, (R, 4, 4))
        self.assertEqual(it["ref_K"].shape, (R, 4))
        self.assertEqual(it["ref_depth"].shape, (R, 96, 160))
        self.assertEqual(it["warp"].shape, (4, 96, 160, 3))
        self.assertEqual(it["warp_mask"].shape, (4, 96, 160))
        # A run is the twin's capture name, NAME@DIGEST of its content.
        self.assertTrue(all(r.split("@")[0] == "run0" for r in it["ref_run"]), it["ref_run"])
        # nine days between the runs, at least a day asked for
        self.assertTrue(np.all(np.abs(it["ref_time"] - it["timestamps"][0]) >= 86400e6))
        self.assertGreater(it["warp_mask"].mean(), 0.1)
        # a rigid pose: the rotation part is orthonormal
        Rm = it["ref_w2c"][0, :3, :3]
        self.assertTrue(np.allclose(Rm @ Rm.T, np.eye(3), atol=1e-9))

    def test_filter_by_reference_count_reads_no_pixels(self):
        n_all = len(loader.ClipDataset(OUT))
        self.assertEqual(len(loader.ClipDataset(OUT, min_refs=1)), n_all)
        with self.assertRaises(ValueError):
            loader.ClipDataset(OUT, min_refs=99)
        # the first capture had no other run to draw on: its clips have none
        with self.assertRaises(ValueError):
            loader.ClipDataset(os.path.join(TMP, "run0"), min_refs=1)


if __name__ == "__main__":
    unittest.main()
