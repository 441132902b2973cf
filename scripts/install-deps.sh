#!/bin/sh
# Installs the Debian 12 packages svtwin needs to build, test and run its main job.
# The one list of build and test dependencies lives here; `make deps` calls this script.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the peers the benchmarks measure)
set -eu

PKGS="build-essential pkg-config
libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev
libexif-dev libxml2-dev libjansson-dev
libproj-dev proj-data
libsqlite3-dev libgdal-dev gdal-bin
libhdf5-dev hdf5-tools hdf5-filter-plugin hdf5-filter-plugin-blosc-serial
liblz4-dev libzstd-dev libblosc-dev libssl-dev
libcriterion-dev
python3 python3-numpy python3-h5py python3-pil
libavformat-dev libavcodec-dev libswscale-dev libavutil-dev python3-av
slurmctld slurmd slurm-client munge openmpi-bin
python3-pip"

# What Debian 12 lacks, from PyPI into Debian's Python (/usr/bin/python3): laspy, the
# independent LAS 1.4 reader the twin's point tests check against.
PIP_PKGS="laspy"

# Debian 12 packages HDF5 filter plugins for LZ4, Bitshuffle (hdf5-filter-plugin) and Blosc
# (hdf5-filter-plugin-blosc-serial) but none for Zstd (filter 32015), which `--codec zstd` needs.
# PyPI's hdf5plugin ships it (libh5zstd.so: HDF5Plugin-Zstandard, Apache-2.0, with zstd, BSD);
# checked to load in Debian's HDF5 1.10.8, hence the pinned version. --no-deps: its h5py
# requirement is met by Debian's python3-h5py, which pip cannot see. Only libh5zstd.so is linked
# into Debian's default plugin directory, not a private path svtwin would add with H5PLappend:
# that directory is searched by every HDF5 reader here (svtwin, h5py, h5dump, the trainers'
# loaders) with no HDF5_PLUGIN_PATH, and the other filters keep coming from Debian's packages.
H5PLUGIN_PIP="hdf5plugin==7.1.0"
H5PLUGIN_DIR="/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/hdf5/serial/plugins"
H5PLUGIN_ZSTD="libh5zstd.so"

BENCH_PKGS="libjpeg-turbo-progs python3-opencv python3-pyproj ffmpeg"

if [ "${1:-}" = "--bench" ]; then PKGS="$PKGS $BENCH_PKGS"; fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
pip_missing=""
for p in $PIP_PKGS; do
	/usr/bin/python3 -c "import $p" 2>/dev/null || pip_missing="$pip_missing $p"
done
zstd_missing=""
[ -e "$H5PLUGIN_DIR/$H5PLUGIN_ZSTD" ] || zstd_missing=1
[ -z "$missing" ] && [ -z "$pip_missing" ] && [ -z "$zstd_missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if [ -z "$missing" ] && [ -z "$pip_missing" ]; then
		# Only the Zstd plugin is absent: everything but --codec zstd works (its tests skip
		# and say so), so a user without root is told, not stopped.
		echo "svtwin: no HDF5 Zstd plugin: --codec zstd needs one; as root:  scripts/install-deps.sh" >&2
		exit 0
	fi
	echo "svtwin: missing Debian packages:$missing" >&2
	[ -n "$missing" ] && echo "svtwin: run as root:  apt-get install -y --no-install-recommends$missing" >&2
	[ -n "$pip_missing" ] && echo "svtwin: and:  /usr/bin/python3 -m pip install --break-system-packages$pip_missing" >&2
	[ -n "$zstd_missing" ] && echo "svtwin: and, for --codec zstd, as root:  scripts/install-deps.sh" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "svtwin: installing$missing"
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
if [ -n "$pip_missing" ]; then
	echo "svtwin: installing from PyPI:$pip_missing"
	# shellcheck disable=SC2086
	/usr/bin/python3 -m pip install -q --break-system-packages --root-user-action=ignore $pip_missing
fi
if [ -n "$zstd_missing" ]; then
	echo "svtwin: installing the HDF5 Zstd filter plugin from PyPI ($H5PLUGIN_PIP)"
	# Only --codec zstd needs it: if PyPI cannot be reached, say so and go on (its tests skip).
	if /usr/bin/python3 -m pip install -q --no-deps --break-system-packages --root-user-action=ignore "$H5PLUGIN_PIP" &&
		src="$(/usr/bin/python3 -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("hdf5plugin").submodule_search_locations[0], "plugins"))')" &&
		[ -e "$src/$H5PLUGIN_ZSTD" ]; then
		mkdir -p "$H5PLUGIN_DIR"
		ln -sf "$src/$H5PLUGIN_ZSTD" "$H5PLUGIN_DIR/$H5PLUGIN_ZSTD"
	else
		echo "svtwin: warning: could not install $H5PLUGIN_PIP: --codec zstd stays unavailable" >&2
	fi
fi
