"""Reading svtwin shards (docs/shard-format.md) with h5py and numpy.

Rules this module keeps, because breaking them is how HDF5 loaders go wrong:

* No h5py File is held open by a dataset object until the first sample is read, and handles
  are keyed by process id, so a DataLoader that forks its workers never shares an HDF5 handle
  across processes (h5py handles do not survive fork).
* The chunk cache of each file is raised to hold a few frames: the 1 MiB default is smaller
  than one 1280x704 frame, which would make HDF5 decode a chunk twice for some reads.
* The HDF5 filter the frames need is checked when the dataset is created, with a message that
  says what to install, instead of an opaque "can't open directory" error at the first read.
"""

import json
import os
import sys

try:
    import h5py
except ImportError as _e:  # say which interpreter has it instead of a bare ImportError
    raise ImportError(
        "svtwin.loader needs h5py, which %s (Python %d.%d) does not have: run with Debian's "
        "/usr/bin/python3 (apt-get install python3-h5py) or `pip install h5py` into this "
        "environment" % (sys.executable, sys.version_info[0], sys.version_info[1])) from _e
import numpy as np

SCHEMA_NAME = "svtwin.cosmos_shard"
SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test")

# codec attribute -> HDF5 filter id the frames need (None: nothing beyond HDF5 itself)
CODEC_FILTERS = {"none": None, "gzip": 1, "lz4": 32004, "zstd": 32015, "blosc": 32001,
                 "jpeg": None}


def _jpeg_decoder():
    """A function bytes -> uint8 [H,W,3] RGB: Pillow (Debian python3-pil) or OpenCV."""
    try:
        from PIL import Image
        import io

        return lambda b: np.asarray(Image.open(io.BytesIO(b.tobytes())).convert("RGB"))
    except ImportError:
        pass
    try:
        import cv2

        return lambda b: cv2.cvtColor(cv2.imdecode(b, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    except ImportError:
        raise RuntimeError("frames are stored as JPEG (codec jpeg): install Pillow "
                           "(Debian python3-pil) or OpenCV (python3-opencv) to decode them")


def _read_frames(g, s):
    """frames[s] of clip group g as uint8 [n,H,W,3], whatever the frame codec."""
    if "frames_jpeg" in g:
        dec = _jpeg_decoder()
        return np.stack([dec(np.asarray(b, dtype=np.uint8)) for b in g["frames_jpeg"][s]])
    return g["frames"][s]


class FilterMissing(RuntimeError):
    """The HDF5 filter a shard's frames need is not available in this process."""


def _filter_avail(fid):
    return bool(h5py.h5z.filter_avail(fid))


def check_filters(codec):
    """Raises FilterMissing unless frames written with `codec` can be decoded here.

    When the filter is missing, importing hdf5plugin (pip) registers it, so that is tried
    once before giving up."""
    if codec not in CODEC_FILTERS:
        raise ValueError("unknown codec %r (schema v%d knows %s)"
                         % (codec, SCHEMA_VERSION, ", ".join(CODEC_FILTERS)))
    fid = CODEC_FILTERS[codec]
    if fid is None or _filter_avail(fid):
        return
    try:
        import hdf5plugin  # noqa: F401  (registers Blosc, LZ4, Zstd... with HDF5)
    except ImportError:
        pass
    if not _filter_avail(fid):
        raise FilterMissing(
            "frames are compressed with %s (HDF5 filter %d), which this h5py cannot decode: "
            "`pip install hdf5plugin` and `import hdf5plugin` before opening, or on Debian "
            "`apt-get install hdf5-filter-plugin hdf5-filter-plugin-blosc-serial` (LZ4, Blosc; "
            "Debian 12 has none for Zstd: svtwin's scripts/install-deps.sh installs one)"
            % (codec, fid))


def _attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def shard_paths(path):
    """The shard files of a dataset directory (from manifest.json, in order), or [path]."""
    if os.path.isdir(path):
        man = os.path.join(path, "manifest.json")
        if not os.path.exists(man):
            shards = sorted(n for n in os.listdir(path) if n.endswith(".h5"))
            raise FileNotFoundError(
                "%s has no manifest.json: it is not an svtwin dataset directory%s"
                % (path, " (it holds %d .h5 files but no manifest: its build did not finish; "
                   "rerun `svtwin build` to complete it)" % len(shards) if shards else ""))
        with open(man) as f:
            m = json.load(f)
        if m.get("schema") != SCHEMA_NAME or not m.get("complete"):
            raise ValueError("%s: not a complete %s manifest" % (man, SCHEMA_NAME))
        return [os.path.join(path, s["file"]) for s in m["shards"]]
    return [path]


def read_index(path):
    """The /index table of a shard or master file as a numpy structured array (no pixels
    are read). The file is closed before returning."""
    with h5py.File(path, "r") as f:
        return f["index"][()]


class ClipDataset:
    """Samples of `window` consecutive frames (or whole clips when window is None) from one
    or more shards, a master file, or a dataset directory.

    Each item is a dict: frames uint8 [n,H,W,3], w2c float64 [n,4,4] (OpenCV world-to-camera,
    ENU metres), K float64 [n,4] (fx, fy, cx, cy), timestamps int64 [n] (microseconds UTC),
    llh float64 [n,3], clip_id str, t0 int, and depth float16 [n,H,W] (metres, 0 = invalid)
    for clips that have it. Clips built with references (`svtwin build --refs`, the default)
    also give refs uint8 [R,H,W,3], ref_w2c float64 [R,4,4], ref_K float64 [R,4], ref_depth
    float16 [R,H,W] (metres, 0 = none), ref_time int64 [R], ref_run str [R], ref_target int32
    [R] (the clip frame each pairs with, -1: the lookahead), ref_kind int32 [R] (0 trajectory,
    1 lookahead), and for the sample's frames warp uint8 [n,H,W,3], warp_mask uint8 [n,H,W]
    (1 a reference pixel landed, 2 filled by a landing's footprint, 0 none) and warp_ref int32
    [n]. min_refs keeps only clips with at least that many
    (trajectory) references, read from the clips' num_refs attributes without reading pixels.
    Thread use: one dataset per thread (h5py holds a
    global lock, so threads would not read in parallel anyway); processes may share it.
    """

    def __init__(self, path, window=None, stride=None, splits=None, cache_frames=4,
                 min_refs=None):
        """Raises instead of returning an empty dataset: ValueError for an unknown split name,
        a window < 1 or longer than every clip (of the chosen splits), and chosen splits that
        hold no clip; FileNotFoundError for a directory without a manifest."""
        if isinstance(splits, str):
            splits = (splits,)
        if splits is not None:
            bad = [s for s in splits if s not in SPLITS]
            if bad:
                raise ValueError("unknown split %s: the splits are %s"
                                 % (", ".join(repr(s) for s in bad), ", ".join(SPLITS)))
        if window is not None and window < 1:
            raise ValueError("window must be at least 1 frame, not %r" % (window,))
        self.paths = shard_paths(path)
        self.window = window
        self.stride = stride or window
        self.cache_frames = cache_frames
        self.samples = []   # (path index, clip id, t0, n)
        self.codec = None
        self.frame_shape = {}
        per_split, longest = {}, 0
        for pi, p in enumerate(self.paths):
            with h5py.File(p, "r") as f:  # closed again before any fork
                if _attr_str(f.attrs.get("schema", b"")) != SCHEMA_NAME:
                    raise ValueError("%s is not an svtwin shard" % p)
                if int(f.attrs["schema_version"]) != SCHEMA_VERSION:
                    raise ValueError("%s: schema v%d, this loader reads v%d"
                                     % (p, int(f.attrs["schema_version"]), SCHEMA_VERSION))
                codec = _attr_str(f.attrs["codec"])
                check_filters(codec)
                self.codec = codec
                index = f["index"][()]
                nrefs = {}
                if min_refs:  # attributes only: no pixel is read
                    for row in index:
                        c = row["clip_id"].decode()
                        nrefs[c] = int(f["clips"][c].attrs.get("num_refs", 0))
            for row in index:
                cid = row["clip_id"].decode()
                if min_refs and nrefs.get(cid, 0) < min_refs:
                    continue
                split = row["split"].decode()
                per_split[split] = per_split.get(split, 0) + 1
                if splits is not None and split not in splits:
                    continue
                T = int(row["num_frames"])
                longest = max(longest, T)
                self.frame_shape[cid] = (int(row["height"]), int(row["width"]), 3)
                if window is None:
                    self.samples.append((pi, cid, 0, T))
                else:
                    for t0 in range(0, T - window + 1, self.stride):
                        self.samples.append((pi, cid, t0, window))
        if not self.samples:
            held = ", ".join("%s %d" % kv for kv in sorted(per_split.items())) or "no clips"
            if longest == 0:
                raise ValueError("%s: no clip in split %s (the dataset holds %s)"
                                 % (path, ", ".join(splits) if splits else "any", held))
            raise ValueError("%s: window %d is longer than every clip%s (the longest has %d "
                             "frames): use a window of at most %d"
                             % (path, window, " of split " + ", ".join(splits) if splits
                                else "", longest, longest))
        self._files = {}
        self._pid = None

    def __len__(self):
        return len(self.samples)

    def _file(self, pi):
        if self._pid != os.getpid():
            # A forked worker: the parent's handles (if any) are not ours to use.
            self._files = {}
            self._pid = os.getpid()
        f = self._files.get(pi)
        if f is None:
            h, w, c = next(iter(self.frame_shape.values())) if self.frame_shape else (1, 1, 3)
            nbytes = max(self.cache_frames, 1) * h * w * c
            f = h5py.File(self.paths[pi], "r", rdcc_nbytes=max(nbytes, 1 << 20),
                          rdcc_nslots=1009, rdcc_w0=1.0)
            self._files[pi] = f
        return f

    def __getitem__(self, i):
        if i < 0:
            i += len(self.samples)
        pi, cid, t0, n = self.samples[i]
        g = self._file(pi)["clips"][cid]
        s = slice(t0, t0 + n)
        out = {
            "frames": _read_frames(g, s),
            "w2c": g["w2c"][s],
            "K": g["K"][s],
            "timestamps": g["timestamps"][s],
            "llh": g["llh"][s],
            "clip_id": cid,
            "t0": t0,
        }
        if "depth" in g:  # float16 metres [n,H,W], 0 = invalid
            out["depth"] = g["depth"][s]
        if "frame_kind" in g:  # densified clips (docs/shard-format.md "Densified clips")
            out["frame_kind"] = g["frame_kind"][s]  # 0 key, 1 warp, 2 repeat, 3 slot, 4 model
            out["frame_src"] = g["frame_src"][s]
            if "valid" in g:
                out["valid"] = g["valid"][s]  # uint8 [n,H,W], 1 = seen by a source
        if "refs" in g:
            r = g["refs"]
            out["refs"] = r["rgb"][()]
            out["ref_w2c"] = r["w2c"][()]
            out["ref_K"] = r["K"][()]
            out["ref_depth"] = r["depth"][()]
            out["ref_time"] = r["timestamps"][()]
            out["ref_run"] = [_attr_str(x) for x in r["run"][()]]
            out["ref_target"] = r["target_frame"][()]
            out["ref_kind"] = r["kind"][()]
        if "warp" in g:
            out["warp"] = g["warp"][s]
            out["warp_mask"] = g["warp_mask"][s]
            out["warp_ref"] = g["warp_ref"][s]
        return out

    def read_frame(self, i, t):
        """One frame (uint8 [H,W,3]) of sample i at offset t: the random-access path."""
        pi, cid, t0, n = self.samples[i]
        if not 0 <= t < n:
            raise IndexError("frame %d of a %d-frame sample" % (t, n))
        g = self._file(pi)["clips"][cid]
        return _read_frames(g, slice(t0 + t, t0 + t + 1))[0]

    def close(self):
        for f in self._files.values():
            f.close()
        self._files = {}

    def __getstate__(self):
        # Pickled into spawned workers: handles stay behind and reopen lazily there.
        d = dict(self.__dict__)
        d["_files"] = {}
        d["_pid"] = None
        return d

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


try:
    import torch
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # torch is optional
    torch = None
    _TorchDataset = None

if _TorchDataset is not None:
    class TorchClipDataset(_TorchDataset):
        """ClipDataset as a torch Dataset: frames uint8 [n,3,H,W] (channels first, as Cosmos
        tokenizers take them), the rest as float64/int64 tensors. Safe with DataLoader
        workers (files open lazily in each worker)."""

        def __init__(self, *args, **kwargs):
            self.inner = ClipDataset(*args, **kwargs)

        def __len__(self):
            return len(self.inner)

        def __getitem__(self, i):
            s = self.inner[i]
            out = {k: torch.from_numpy(np.ascontiguousarray(v))
                   for k, v in s.items() if isinstance(v, np.ndarray)}
            out["frames"] = out["frames"].permute(0, 3, 1, 2)
            out["clip_id"] = s["clip_id"]
            out["t0"] = s["t0"]
            return out
else:
    TorchClipDataset = None
