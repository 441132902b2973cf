#!/bin/bash
# scripts/device-check.sh: the GPU check anyone can rerun (docs/gpu.md).
#
#   scripts/device-check.sh prepare   here (Debian 12, nvcc, no GPU needed): builds the program,
#                                     the samples generator and the test binaries with CUDA into
#                                     build-device/, strips them, and copies beside them every
#                                     shared library `ldd` lists (glibc excepted), libnvjpeg.so.13
#                                     and proj.db; refuses a folder of 64 MiB or more.
#   scripts/device-check.sh run       on the GPU machine (device tool: carry=[build-device]):
#                                     the GPU tests twice (a result that moves is a race), the
#                                     end-to-end test on the CUDA path, `svtwin bench kernels`,
#                                     and a whole build of the samples on CPU and on GPU. Every
#                                     figure goes to $OUT (at most 8 files). Without a GPU it runs
#                                     what it can and says what it skipped.
#
# Needs neither compute-sanitizer nor ncu (both failed on that machine) nor a package registry.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${DEVICE_BUILD:-build-device}
LIMIT_MB=64
cd "$ROOT" || exit 1

GPU_TESTS="test_gpu test_gpu_parity test_gpu_ref test_gpu_kernels test_gpu_depth test_gpu_jpeg test_gpu_frames test_gpu_warp test_gpu_densify test_gpu_view_map"
OTHER_TESTS="test_e2e test_dataset"

prepare() {
	set -e
	command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] ||
		{ echo "device-check: no nvcc here: the device build needs CUDA"; exit 1; }
	# The objects go to $O (kept for the next prepare, never carried); what travels to $D.
	local O="$D-obj"
	# FFMPEG=0: the export is not part of the device check, and FFmpeg's libraries (x264,
	# x265, zvbi, ...) alone would push the payload past the 64 MiB a run can carry.
	# GDAL does not travel either: it is loaded on first use (docs/architecture.md), so ldd
	# below does not list it, and no check reads a layer (no --districts, --dongs, store
	# layers). A check that needs it must copy libgdal.so.32 and its ldd list explicitly.
	make SVT_DEPS_OK=1 BUILD="$O" CUDA=1 FFMPEG=0 -j2 "$O/svtwin" "$O/svtwin-samples" \
		$(for t in $GPU_TESTS $OTHER_TESTS; do echo "$O/tests/$t"; done)
	rm -rf "$D" && mkdir -p "$D"
	rm -rf "$D/bin" "$D/lib" "$D/share"
	mkdir -p "$D/bin/tests" "$D/lib" "$D/share/proj"
	cp "$O/svtwin" "$O/svtwin-samples" "$D/bin/"
	for t in $GPU_TESTS $OTHER_TESTS; do cp "$O/tests/$t" "$D/bin/tests/"; done
	strip --strip-debug "$D"/bin/svtwin* "$D"/bin/tests/*
	# Shared libraries, glibc's own excepted (the machine has its own; copying it breaks).
	for b in "$D"/bin/svtwin* "$D"/bin/tests/*; do ldd "$b"; done |
		awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
		grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libresolv)\.so' |
		while read -r l; do cp -L "$l" "$D/lib/"; done
	strip --strip-unneeded "$D"/lib/*.so* 2>/dev/null || true
	# PROJ's database (the geo stage needs it) and HDF5's filter plugins, if any.
	cp /usr/share/proj/proj.db "$D/share/proj/"
	# nvJPEG: from the CUDA toolkit, an installed nvidia-nvjpeg wheel, or downloaded here.
	nvj=$(ls /usr/local/cuda/lib64/libnvjpeg.so.13 2>/dev/null ||
		python3 -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13/lib/libnvjpeg.so.13"))' 2>/dev/null || true)
	if [ -z "$nvj" ] || [ ! -f "$nvj" ]; then
		mkdir -p "$O/wheel"
		python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
			--platform manylinux2014_x86_64 -d "$O/wheel" 'nvidia-nvjpeg>=13,<14' ||
			echo "device-check: could not fetch nvidia-nvjpeg; the device will use libjpeg-turbo"
		w=$(ls "$O"/wheel/nvidia_nvjpeg-*.whl 2>/dev/null | head -1)
		if [ -n "$w" ]; then
			(cd "$O/wheel" && python3 -m zipfile -e "$(basename "$w")" .)
			nvj="$O/wheel/nvidia/cu13/lib/libnvjpeg.so.13"
		fi
	fi
	if [ -n "$nvj" ] && [ -f "$nvj" ]; then
		cp -L "$nvj" "$D/lib/libnvjpeg.so.13"
		# The declarations jpeg.cu uses instead of nvjpeg.h, checked against the real header.
		inc=$(dirname "$(dirname "$nvj")")/include
		if [ -f "$inc/nvjpeg.h" ]; then
			cc -std=c11 -fsyntax-only -I"$inc" -I/usr/local/cuda/include tests/nvjpeg_abi_check.c &&
				echo "device-check: jpeg.cu's nvJPEG declarations match $inc/nvjpeg.h"
		fi
	fi
	git rev-parse --short HEAD > "$D/COMMIT" 2>/dev/null || true
	ls -la "$D/bin" "$D/lib" | sed 's/^/  /'
	echo "device-check: unpacked $(du -sm "$D" | cut -f1) MiB; packing (xz)"
	# Packed: ICU's data alone is 30 MiB unpacked; run unpacks it into a temporary folder.
	tar -cJf "$D/payload.tar.xz" -C "$D" bin lib share COMMIT
	rm -rf "$D/bin" "$D/lib" "$D/share"
	size=$(du -sm "$D" | cut -f1)
	echo "device-check: $D is ${size} MiB"
	if [ "$size" -ge "$LIMIT_MB" ]; then
		echo "device-check: $D is over ${LIMIT_MB} MiB: it cannot travel"; exit 1
	fi
	echo "device-check: ready; run it with the device tool: carry=[$D], command" \
		"'scripts/device-check.sh run'"
}

run() {
	local out=${OUT:-$D/out}
	mkdir -p "$out"
	local sum="$out/summary.txt" rc=0
	local -A secs=()
	: > "$sum"
	say() { echo "$*" | tee -a "$sum"; }
	[ -f "$D/payload.tar.xz" ] || { say "device-check: $D/payload.tar.xz missing: run 'prepare' first (here), then carry $D"; exit 1; }
	local un=${TMPDIR:-/tmp}/svt-device-payload
	rm -rf "$un" && mkdir -p "$un" && tar -xJf "$D/payload.tar.xz" -C "$un" ||
		{ say "device-check: cannot unpack $D/payload.tar.xz"; exit 1; }
	D=$un
	export LD_LIBRARY_PATH="$D/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export PROJ_DATA="$D/share/proj" PROJ_LIB="$D/share/proj"
	[ -f "$D/lib/libnvjpeg.so.13" ] && export SVT_NVJPEG="$D/lib/libnvjpeg.so.13"
	export SVT_BUILD="$D/bin" SVT_REAL_DATA="${SVT_REAL_DATA:-$ROOT/../shared/data/real}"
	say "device-check run: commit $(cat "$D/COMMIT" 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
	say "host: $(uname -srm), $(nproc) cores"
	if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
		say "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
		gpu=1
	else
		say "gpu: NONE (no nvidia-smi or no device): every CUDA test below skips, the builds run on the CPU"
		gpu=0
	fi
	# What ldd sees; GDAL and FFmpeg are dlopen'd on first use and not among them.
	missing=$(for b in "$D"/bin/svtwin* "$D"/bin/tests/*; do ldd "$b"; done | grep 'not found' | sort -u)
	[ -n "$missing" ] && say "libraries missing: $missing"

	# The samples, generated where they run (ground truth for the e2e test).
	local work=${TMPDIR:-/tmp}/svt-device-check
	rm -rf "$work" && mkdir -p "$work"
	"$D/bin/svtwin-samples" --out "$work/capture" --seed 1 > "$work/gen.log" 2>&1 ||
		{ say "samples generator FAILED: $(tail -3 "$work/gen.log")"; rc=1; }
	export SVT_SAMPLES="$work/capture"

	# The GPU tests twice: the pass/fail lines and every logged figure must not move.
	for pass in 1 2; do
		: > "$out/gpu_tests_$pass.log"
		for t in $GPU_TESTS; do
			echo "== $t" >> "$out/gpu_tests_$pass.log"
			timeout 300 "$D/bin/tests/$t" --jobs 1 --verbose --short-filename \
				>> "$out/gpu_tests_$pass.log" 2>&1 || { echo "FAILED: $t" >> "$out/gpu_tests_$pass.log"; rc=1; }
		done
	done
	local strip_t='s/\([0-9.]*s\)//g; /Criterion v/d'
	if diff <(sed "$strip_t" "$out/gpu_tests_1.log") <(sed "$strip_t" "$out/gpu_tests_2.log") > "$work/race.diff"; then
		say "gpu tests: the two runs agree"
	else
		say "gpu tests: the two runs DIFFER (a race?): $(head -5 "$work/race.diff")"; rc=1
	fi
	say "gpu tests: $(grep -c '^\[PASS\]' "$out/gpu_tests_1.log") passed," \
		"$(grep -c '^\[SKIP\]' "$out/gpu_tests_1.log") skipped," \
		"$(grep -c '^\[FAIL\]' "$out/gpu_tests_1.log") failed (run 1)"
	grep '^\[SKIP\]' "$out/gpu_tests_1.log" | sed 's/^/  /' | head -20 >> "$sum"

	# End to end on the CUDA path (AUTO picks CUDA when a device is usable).
	timeout 600 "$D/bin/tests/test_e2e" --jobs 1 --verbose --short-filename > "$out/e2e.log" 2>&1 ||
		{ say "e2e: FAILED"; rc=1; }
	say "e2e: $(grep -a 'Synthesis' "$out/e2e.log" | tail -1)"

	# Kernels: per-kernel figures (and the nvJPEG decode line when a GPU is there).
	timeout 600 "$D/bin/tests/test_dataset" --jobs 1 --verbose --short-filename > "$out/dataset.log" 2>&1 ||
		{ say "dataset (the job on the CUDA path, frame batch vs per frame): FAILED"; rc=1; }
	say "dataset: $(grep -a 'Synthesis' "$out/dataset.log" | tail -1)"

	timeout 600 "$D/bin/svtwin" bench kernels > "$out/bench_kernels.txt" 2>&1 ||
		{ say "bench kernels: FAILED"; rc=1; }
	grep -aE '^(clip |frame batch|decode batch|decode \+)|over the clip' "$out/bench_kernels.txt" |
		sed 's/^/  /' >> "$sum"

	# A whole build of the samples, CPU then GPU, timed.
	: > "$out/builds.log"
	for mode in cpu gpu; do
		flag=; [ $mode = cpu ] && flag=--cpu
		t0=$(date +%s.%N)
		timeout 600 "$D/bin/svtwin" build "$work/capture" -o "$work/out_$mode" $flag >> "$out/builds.log" 2>&1 ||
			{ say "build $mode: FAILED"; rc=1; }
		t1=$(date +%s.%N)
		note=; [ $mode = gpu ] && [ $gpu = 0 ] && note=" (no GPU: AUTO ran on the CPU too)"
		secs[$mode]=$(awk "BEGIN{print $t1-$t0}")
		say "build $mode: ${secs[$mode]} s," \
			"$(ls "$work/out_$mode"/*.h5 2>/dev/null | wc -l) shards$note"
	done
	grep -a 'views: clips in batches\|views on ' "$out/builds.log" | sort -u | sed 's/^/  /' >> "$sum"
	# The end-to-end targets (issue 17): panoramas per second of the GPU build against the
	# same build on every CPU core and against nvJPEG's batched decode alone of the same files.
	timeout 300 "$D/bin/svtwin" bench kernels --jpeg-dir "$work/capture" > "$out/decode_only.txt" 2>&1 ||
		{ say "decode-only: FAILED"; rc=1; }
	sed 's/^/  /' "$out/decode_only.txt" >> "$sum"
	local nf dec
	nf=$(ls "$work/capture"/*.jpg 2>/dev/null | wc -l)
	dec=$(awk '$1 == "decode-only" && $2 == "cuda" {for (i = 1; i < NF; i++) if ($(i+1) == "pano/s") print $i}' "$out/decode_only.txt")
	awk -v n="$nf" -v g="${secs[gpu]:-0}" -v c="${secs[cpu]:-0}" -v d="${dec:-0}" -v cores="$(nproc)" -v nogpu="$((1 - gpu))" 'BEGIN {
		gp = g > 0 ? n / g : 0; cp = c > 0 ? n / c : 0
		printf "end to end (%d panoramas): gpu build %.2f pano/s, cpu build (%d cores) %.2f pano/s", n, gp, cores, cp
		if (cp > 0) printf ", gpu/cpu %.2f (target > 1)", gp / cp
		if (d > 0) printf "; nvJPEG batched decode alone %.2f pano/s, gpu build/decode %.2f (target >= 0.8)", d, gp / d
		else printf "; no nvJPEG decode figure"
		if (nogpu) printf " (no GPU: both builds ran on the CPU)"
		printf "\n" }' | tee -a "$sum"
	say "device-check: done, rc $rc (files in $out)"
	return $rc
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*) echo "usage: scripts/device-check.sh prepare|run"; exit 2 ;;
esac
