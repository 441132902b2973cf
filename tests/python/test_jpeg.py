"""The loader on shards whose frames are JPEG bytes (`--codec jpeg`): same samples, same
shapes and poses as a lossless build, pixels within JPEG's loss."""

import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

from svtwin import ClipDataset


@unittest.skipUnless(os.environ.get("SVT_SAMPLES"), "SVT_SAMPLES is not set: run through make test")
class JpegShards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="svt-pyjpeg-")
        prog = os.path.join(os.environ.get("SVT_BUILD", "build"), "svtwin")
        common = ["--clip-frames", "9", "--size", "256x144", "--threads", "2"]
        for codec in ("jpeg:90", "gzip"):
            out = os.path.join(cls.tmp, codec.split(":")[0])
            subprocess.run([prog, "-q", "build", os.environ["SVT_SAMPLES"], "-o", out,
                            "--codec", codec] + common, check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_frames_match_lossless_build(self):
        a = ClipDataset(os.path.join(self.tmp, "jpeg"))
        b = ClipDataset(os.path.join(self.tmp, "gzip"))
        self.assertEqual(len(a), len(b))
        self.assertGreater(len(a), 0)
        for i in (0, len(a) - 1):
            sa, sb = a[i], b[i]
            self.assertEqual(sa["clip_id"], sb["clip_id"])
            self.assertEqual(sa["frames"].shape, sb["frames"].shape)
            self.assertEqual(sa["frames"].dtype, np.uint8)
            np.testing.assert_array_equal(sa["w2c"], sb["w2c"])
            err = sa["frames"].astype(np.float64) - sb["frames"].astype(np.float64)
            psnr = 10 * np.log10(255.0 ** 2 / max(np.mean(err ** 2), 1e-12))
            self.assertGreater(psnr, 30.0, "PSNR %.1f dB" % psnr)
            one = a.read_frame(i, 4)
            np.testing.assert_array_equal(one, sa["frames"][4])


if __name__ == "__main__":
    unittest.main()
