"""Peer for `svtwin bench shard`: h5py writing the same frames the svtwin writer just stored
(read back from its shard in DIR, untimed) as uint8 [T,H,W,3] chunked one frame per chunk with
gzip (h5py's default level 4, then level 1), and the random-frame read latency of the svtwin
Python loader on DIR.

Usage: shard_h5py.py DIR [REPS]. Prints
  h5py_gzip4_mb_s <median MB/s of raw frame bytes>
  h5py_gzip1_mb_s <median>
  loader_read_ms <median ms> <p95 ms> <reads>
and exits 3 when h5py is missing."""
import os
import sys
import tempfile
import time

try:
    import h5py
    import numpy as np
except ImportError:
    sys.exit(3)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
import svtwin  # noqa: E402

d = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ds = svtwin.ClipDataset(d)
frames = ds[0]["frames"]  # untimed: decoded from the svtwin shard
T, H, W, _ = frames.shape
raw_mb = frames.nbytes / 1e6


def write(level):
    times = []
    for _ in range(reps):
        fd, path = tempfile.mkstemp(suffix=".h5", dir=d)
        os.close(fd)
        t0 = time.perf_counter()
        with h5py.File(path, "w") as f:
            dset = f.create_dataset("frames", shape=frames.shape, dtype=np.uint8,
                                    chunks=(1, H, W, 3), compression="gzip",
                                    compression_opts=level)
            for t in range(T):  # frame by frame, as a pipeline produces them
                dset[t] = frames[t]
        times.append(time.perf_counter() - t0)
        os.unlink(path)
    times.sort()
    return raw_mb / times[len(times) // 2]


print("h5py_gzip4_mb_s %.2f" % write(4), flush=True)
print("h5py_gzip1_mb_s %.2f" % write(1), flush=True)

# Random single-frame reads through the loader (a fresh dataset: cold handles, warm OS cache).
rng = np.random.default_rng(1)
rd = svtwin.ClipDataset(d)
rd.read_frame(0, 0)  # open the file once; the cost measured is per frame
lat = []
for _ in range(200):
    t = int(rng.integers(0, T))
    t0 = time.perf_counter()
    rd.read_frame(0, t)
    lat.append((time.perf_counter() - t0) * 1e3)
lat.sort()
print("loader_read_ms %.3f %.3f %d" % (lat[len(lat) // 2], lat[int(len(lat) * 0.95)], len(lat)))
