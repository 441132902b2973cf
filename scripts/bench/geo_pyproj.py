"""Peer for `svtwin bench geo`: pyproj's vectorised Transformer on the same workload
(N points, lon 125-129.5, lat 33-38.5, seeded), EPSG:4326 -> EPSG:N, always_xy.

Prints one line: `pyproj_pts_per_s <median rate> <reps>`; exits 3 when pyproj is missing so
the caller can say so instead of failing."""
import sys
import time

try:
    import numpy as np
    from pyproj import Transformer
except ImportError:
    sys.exit(3)

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
epsg = int(sys.argv[2]) if len(sys.argv) > 2 else 5186
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
rng = np.random.default_rng(1)
lon = rng.uniform(125.0, 129.5, n)
lat = rng.uniform(33.0, 38.5, n)
tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
tr.transform(lon[:1000], lat[:1000])  # warm-up: PROJ opens its database lazily
rates = []
for _ in range(reps):
    x, y = lon.copy(), lat.copy()
    t0 = time.perf_counter()
    tr.transform(x, y, inplace=True)
    rates.append(n / (time.perf_counter() - t0))
rates.sort()
print(f"pyproj_pts_per_s {rates[len(rates) // 2]:.0f} {reps}")
