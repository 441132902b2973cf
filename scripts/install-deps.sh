#!/bin/sh
# Installs the Debian 12 packages svtwin needs to build, test and run its main job.
# The one list of build and test dependencies lives here; `make deps` calls this script.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the peers the benchmarks measure)
set -eu

PKGS="build-essential pkg-config
libturbojpeg0-dev libpng-dev zlib1g-dev
libexif-dev libxml2-dev libjansson-dev
libproj-dev proj-data
libsqlite3-dev libgdal-dev gdal-bin
libhdf5-dev hdf5-tools hdf5-filter-plugin hdf5-filter-plugin-blosc-serial
liblz4-dev libzstd-dev libblosc-dev libssl-dev
libcriterion-dev
python3 python3-numpy python3-h5py python3-pil
libavformat-dev libavcodec-dev libswscale-dev libavutil-dev python3-av
slurmctld slurmd slurm-client munge openmpi-bin"

BENCH_PKGS="libjpeg-turbo-progs python3-opencv python3-pyproj ffmpeg"

if [ "${1:-}" = "--bench" ]; then PKGS="$PKGS $BENCH_PKGS"; fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "svtwin: missing Debian packages:$missing" >&2
	echo "svtwin: run as root:  apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "svtwin: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
