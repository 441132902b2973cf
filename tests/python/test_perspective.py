"""Perspective photos built end to end (`svtwin build`) on the real captures in
../shared/data/real (opensfm_lund, opensfm_berlin: EXIF FocalLengthIn35mmFilm; kapture_berlin:
a RADIAL kapture sensor), each stored frame checked against the photo resampled by an
independent path: the camera from the photo's own metadata read here (PIL's EXIF, the kapture
sensors.txt parsed here), OpenCV's undistort-rectify map at 4x the view's resolution for the
stored K, then OpenCV's area resize down (a box prefilter like the job's). Also: K is the
source focal scaled to the stored pixels, the pose looks along the stored heading, the clip
says camera_model pinhole, and `svtwin build --panorama` would not be needed to refuse a photo
as a panorama (`svtwin view` does). Skips, saying so, without the data, OpenCV or PIL.
"""

import glob
import os
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SVT_BUILD")
REAL = os.environ.get("SVT_REAL_DATA", "../shared/data/real")
W, H = 256, 144
MEAN_MAX = 3.0     # grey levels, mean absolute difference over the frame
P99_MAX = 24       # the 99th percentile (edges of fine texture differ most)


def _svtwin(*args):
    return subprocess.run([os.path.join(BUILD, "svtwin"), *args], capture_output=True, text=True)


def _exif_camera(path):
    """(fx, cx, cy, dist) from EXIF FocalLengthIn35mmFilm, OpenSfM's rule f35 / 36 x the longer
    side (pixel centres at i + 0.5: cx = w / 2)."""
    from PIL import Image
    with Image.open(path) as im:
        f35 = im.getexif().get_ifd(0x8769).get(0xA405)
        w, h = im.size
    return f35 / 36.0 * max(w, h), w / 2.0, h / 2.0, (0.0, 0.0, 0.0, 0.0)


def _kapture_camera(root):
    with open(os.path.join(root, "sensors", "sensors.txt")) as f:
        for line in f:
            p = [x.strip() for x in line.split(",")]
            if line.startswith("#") or len(p) < 4 or p[2] != "camera":
                continue
            assert p[3] == "RADIAL", p[3]
            w, h, fo, cx, cy, k1, k2 = (float(x) for x in p[4:11])
            return fo, cx, cy, (k1, k2, 0.0, 0.0)
    raise AssertionError("no camera in sensors.txt")


def _independent(photo, cam, K):
    """The view for stored intrinsics K = (fx, fy, cx, cy) from the photo and its camera."""
    import cv2
    import numpy as np
    fo, cx, cy, dist = cam
    img = cv2.cvtColor(cv2.imread(photo, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    # OpenCV puts pixel centres at integers: both cameras shift by half a pixel.
    src = np.array([[fo, 0, cx - 0.5], [0, fo, cy - 0.5], [0, 0, 1]], np.float64)
    s = 4
    fx, fy, vcx, vcy = K
    view = np.array([[fx * s, 0, vcx * s - 0.5], [0, fy * s, vcy * s - 0.5], [0, 0, 1]])
    mx, my = cv2.initUndistortRectifyMap(src, np.array(dist), None, view, (W * s, H * s),
                                         cv2.CV_32FC1)
    big = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA)


class Perspective(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not os.path.exists(os.path.join(BUILD, "svtwin")):
            raise unittest.SkipTest("SVT_BUILD is needed: run `make test-python`")
        try:
            import cv2  # noqa: F401
            import h5py  # noqa: F401
            from PIL import Image  # noqa: F401
        except ImportError as e:
            raise unittest.SkipTest(f"OpenCV, PIL and h5py are needed (python3-opencv, "
                                    f"python3-pil, python3-h5py): {e}")
        cls.tmp = tempfile.mkdtemp(prefix="svt-persp-")

    def _check(self, name, capture, photos, cam_of):
        import h5py
        import numpy as np
        if not os.path.isdir(capture):
            self.skipTest(f"{capture} is absent (SVT_REAL_DATA)")
        out = os.path.join(self.tmp, name)
        r = _svtwin("build", capture, "-o", out, "--size", f"{W}x{H}", "--clip-frames", "1",
                    "--threads", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(_svtwin("verify", out).returncode, 0)
        shards = sorted(glob.glob(os.path.join(out, "*-0*.h5")))
        self.assertTrue(shards)
        checked = 0
        for sh in shards:
            with h5py.File(sh, "r") as f:
                crs = f.attrs["crs"]
                crs = crs.decode() if isinstance(crs, bytes) else crs
                # Not Korea: the capture's UTM zone (33N for Lund and Berlin), not EPSG:5186.
                self.assertEqual(crs, "EPSG:32633")
                for cid, g in f["clips"].items():
                    model = g.attrs["camera_model"]
                    model = model.decode() if isinstance(model, bytes) else model
                    self.assertEqual(model, "pinhole")
                    idx = int(cid.rsplit("-f", 1)[1])
                    photo = photos[idx]
                    cam = cam_of(photo)
                    K = g["K"][0]
                    frame = g["frames"][0]
                    # K is the source focal scaled to cover the view (zoomed for distortion).
                    self.assertAlmostEqual(K[2], W / 2, places=6)
                    self.assertAlmostEqual(K[3], H / 2, places=6)
                    from PIL import Image
                    with Image.open(photo) as im:
                        sw, shh = im.size
                    cover = max(W / sw, H / shh)
                    self.assertGreaterEqual(K[0], cam[0] * cover * (1 - 1e-9))
                    self.assertLess(K[0], cam[0] * cover * 1.2)
                    ref = _independent(photo, cam, K)
                    d = np.abs(ref.astype(np.int16) - frame.astype(np.int16))
                    if os.environ.get("SVT_PERSP_DEBUG"):
                        print(name, cid, round(float(d.mean()), 3), np.percentile(d, 99))
                    self.assertLess(d.mean(), MEAN_MAX, f"{name} {cid}: mean {d.mean():.2f}")
                    self.assertLess(np.percentile(d, 99), P99_MAX, f"{name} {cid}")
                    # The pose looks where the heading says, level.
                    R = g["w2c"][0][:3, :3]
                    fwd = R[2]  # camera z in ENU
                    hd = np.degrees(np.arctan2(fwd[0], fwd[1])) % 360
                    dh = (hd - g["heading"][0] + 180) % 360 - 180
                    self.assertLess(abs(dh), 1e-6)
                    self.assertLess(abs(fwd[2]), 1e-9)
                    checked += 1
        self.assertEqual(checked, len(photos))
        self._check_track_headings(shards)

    def _check_track_headings(self, shards):
        """These photos carry no heading: each looks along the track, the geodesic azimuth
        from the frame before to the frame after it (pyproj's, not svtwin's)."""
        import h5py
        try:
            from pyproj import Geod
        except ImportError:
            return
        rows = []
        for sh in shards:
            with h5py.File(sh, "r") as f:
                for cid, g in f["clips"].items():
                    rows.append((int(cid.rsplit("-f", 1)[1]), g["llh"][0], g["heading"][0]))
        rows.sort(key=lambda r: r[0])
        geod = Geod(ellps="WGS84")
        for i in range(1, len(rows) - 1):
            (_, a, _), (_, b, h), (_, c, _) = rows[i - 1], rows[i], rows[i + 1]
            az, _, dist = geod.inv(a[1], a[0], c[1], c[0])
            if dist < 0.5:
                continue
            d = (h - az + 180) % 360 - 180
            self.assertLess(abs(d), 0.5, f"frame {rows[i][0]}: heading {h:.2f}, track {az:.2f}")

    def test_opensfm_lund(self):
        cap = os.path.join(REAL, "opensfm_lund", "images")
        self._check("lund", cap, sorted(glob.glob(os.path.join(cap, "*.jpg"))), _exif_camera)

    def test_opensfm_berlin(self):
        cap = os.path.join(REAL, "opensfm_berlin", "images")
        self._check("berlin", cap, sorted(glob.glob(os.path.join(cap, "*.jpg"))), _exif_camera)

    def test_kapture_berlin(self):
        root = os.path.join(REAL, "kapture_berlin")
        photos = sorted(glob.glob(os.path.join(root, "sensors", "records_data", "*.jpg")))
        cam = _kapture_camera(root) if os.path.isdir(root) else None
        self._check("kapture", root, photos, lambda p: cam)

    def test_view_refuses_photo(self):
        photo = os.path.join(REAL, "opensfm_lund", "images", "01.jpg")
        if not os.path.exists(photo):
            self.skipTest(f"{photo} is absent (SVT_REAL_DATA)")
        r = _svtwin("view", photo, "--fov", "90", "--size", "64x64", "-o", os.path.join(self.tmp, "v.png"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a 360 panorama", r.stderr)


if __name__ == "__main__":
    unittest.main()
