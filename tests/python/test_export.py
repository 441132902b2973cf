"""`svtwin export cosmos` on datasets built from the generated samples, checked by an
independent reader (export_check: PyAV decode, h5py, numpy) and the Cosmos loaders' rules.

The samples are one panorama a second (1 fps) and 120 good frames: `--clip-frames 97` gives one
97-frame clip (predict, gen3c), the default 57-frame clips exercise the refusals. Transfer at
10-60 fps is covered by tests/test_export.c on a synthetic 16 fps dataset. Skips, saying so,
without SVT_BUILD/SVT_SAMPLES, PyAV or an svtwin built with FFmpeg.
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SVT_BUILD")
SAMPLES = os.environ.get("SVT_SAMPLES")


def _svtwin(*args):
    return subprocess.run([os.path.join(BUILD, "svtwin"), *args], capture_output=True, text=True)


def setUpModule():
    global TMP, D97, D57, export_check
    if not BUILD or not SAMPLES or not os.path.exists(os.path.join(BUILD, "svtwin")):
        raise unittest.SkipTest("SVT_BUILD and SVT_SAMPLES are needed: run `make test-python`")
    try:
        import export_check
    except ImportError as e:
        raise unittest.SkipTest(f"PyAV, h5py and numpy are needed (python3-av): {e}")
    TMP = tempfile.mkdtemp(prefix="svt-export-")
    probe = _svtwin("export", "cosmos", os.path.join(TMP, "none"), "-o", TMP, "--layout",
                    "predict")
    if "without FFmpeg" in probe.stderr:
        raise unittest.SkipTest("svtwin was built without FFmpeg's libraries: " + probe.stderr)
    D97, D57 = os.path.join(TMP, "d97"), os.path.join(TMP, "d57")
    for d, extra in ((D97, ["--clip-frames", "97"]), (D57, [])):
        r = _svtwin("-q", "build", SAMPLES, "-o", d, "--size", "256x144", "--split-buffer", "0",
                    "--threads", "2", *extra)
        if r.returncode:
            raise RuntimeError(r.stderr)


def tearDownModule():
    if globals().get("TMP"):
        shutil.rmtree(TMP, ignore_errors=True)


class TestExport(unittest.TestCase):
    def export(self, ds, out, layout, *extra):
        return _svtwin("export", "cosmos", ds, "-o", out, "--layout", layout, "--threads", "2",
                       *extra)

    def test_predict_and_gen3c_read_back(self):
        for layout in ("predict", "gen3c"):
            out = os.path.join(TMP, "x-" + layout)
            r = self.export(D97, out, layout)
            self.assertEqual(r.returncode, 0, r.stderr)
            roots = sorted(glob.glob(os.path.join(out, "*", "manifest.jsonl")))
            self.assertTrue(roots, "no split root written")
            for m in roots:
                rows = export_check.check_root(D97, os.path.dirname(m), layout)
                self.assertTrue(all(r["frames"] == 97 for r in rows))
                self.assertEqual(os.path.basename(os.path.dirname(m)), rows[0]["split"])

    def test_predict_refuses_57_frame_clips_by_name(self):
        out = os.path.join(TMP, "x-refuse")
        r = self.export(D57, out, "predict")
        self.assertEqual(r.returncode, 1, "every clip refused must fail the run")
        self.assertIn("refused capture-s000-f00000", r.stderr)
        self.assertIn("57 frames", r.stderr)
        self.assertIn("93", r.stderr)
        self.assertFalse(glob.glob(os.path.join(out, "**", "*.mp4"), recursive=True))

    def test_transfer_refuses_1fps_with_the_reason(self):
        r = self.export(D97, os.path.join(TMP, "x-t1"), "transfer")
        self.assertEqual(r.returncode, 1)
        self.assertIn("1 fps", r.stderr)
        self.assertIn("10-60 fps", r.stderr)
        self.assertIn("densify", r.stderr)

    def test_resume_skips_complete_clips_and_replaces_partial_ones(self):
        out = os.path.join(TMP, "x-resume")
        self.assertEqual(self.export(D97, out, "predict", "--split", "train").returncode, 0)
        video = glob.glob(os.path.join(out, "videos", "*.mp4"))[0]
        stamp = os.stat(video).st_mtime_ns
        r = self.export(D97, out, "predict", "--split", "train")
        self.assertIn("0 clips written, 1 already complete", r.stdout)
        self.assertEqual(os.stat(video).st_mtime_ns, stamp)
        # A killed run: the video missing, a stale .tmp beside it.
        os.rename(video, video + ".tmp")
        r = self.export(D97, out, "predict", "--split", "train")
        self.assertIn("1 clips written", r.stdout)
        self.assertFalse(os.path.exists(video + ".tmp"))
        export_check.check_root(D97, out, "predict")

    def test_split_and_layout_never_mix(self):
        out = os.path.join(TMP, "x-mix")
        self.assertEqual(self.export(D97, out, "predict", "--split", "train").returncode, 0)
        with open(os.path.join(out, "manifest.jsonl")) as f:
            self.assertEqual({json.loads(l)["split"] for l in f}, {"train"})
        r = self.export(D97, out, "gen3c", "--split", "train")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another layout", r.stderr)


if __name__ == "__main__":
    unittest.main()
