# svtwin: street-view captures -> georeferenced twin -> Cosmos-style HDF5 shards.
#
#   make            library, program (build/svtwin), samples generator
#   make dataset    the main job on the bundled samples (CAPTURE=dir OUT=dir for another)
#   make test       every test (Criterion + Python); GPU parity tests skip without a GPU
#   make asan       the tests under AddressSanitizer + UBSan (CPU build)
#   make bench      benchmarks, printed as ratios to peers measured in the same run
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make deps       install the Debian packages (scripts/install-deps.sh)
#
# CUDA: gpu/*.cu are compiled when nvcc is found; CUDA=0 forces a CPU-only build. The binary
# links the CUDA runtime statically, so it runs on machines with no GPU or driver (C path).

BUILD   ?= build
CC      ?= cc
PYTHON  ?= /usr/bin/python3
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA    ?= $(if $(NVCC),1,0)
SAN     ?=
OPT     ?= -O2
CAPTURE ?= $(BUILD)/samples/capture
OUT     ?= out
# Seoul's districts label clips when the shared real data sits beside the checkout.
DISTRICTS ?= $(wildcard ../shared/data/real/seoul_maps/juso/2015/json/seoul_municipalities_geo_simple.json)
DONGS     ?= $(wildcard ../shared/data/real/seoul_maps/juso/2015/json/seoul_neighborhoods_geo_simple.json)
FUZZ_SECONDS ?= 60

PKGS := libturbojpeg libjpeg libpng libexif libxml-2.0 jansson proj hdf5 liblz4 libzstd libcrypto blosc sqlite3
# GDAL and FFmpeg are compiled against but not linked: the code that uses them loads them on
# first use (svt_dl_load, base/dl.c), because mapping their ~150 dependent libraries cost
# every process ~0.09 s at start (docs/architecture.md). The loader opens the SONAME of the
# library the headers belong to, read here from the file -l would link: pkg-config's -L
# first, then the compiler's search path (Debian's gdal.pc names a libdir without it).
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) gdal 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
soname = $(shell f=; for d in $(patsubst -L%,%,$(filter -L%,$(shell pkg-config --libs-only-L $(2) 2>/dev/null))); \
	do [ -e $$d/lib$(1).so ] && f=$$d/lib$(1).so && break; done; \
	readelf -d $${f:-$$($(CC) -print-file-name=lib$(1).so)} 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
soname_flag = $(if $(3),-DSVT_$(1)_SONAME=\"$(3)\")
GDAL_SONAME := $(call soname,gdal,gdal)
$(BUILD)/twin/twin_layer.o: CPPFLAGS += $(call soname_flag,GDAL,,$(GDAL_SONAME))

CPPFLAGS += -I. -D_GNU_SOURCE $(PKG_CFLAGS) -MMD -MP
CFLAGS   ?= $(OPT) -g
# -ffp-contract=off: parity between the C paths and the kernels needs uncontracted a*b+c on
# every compiler (clang contracts by default); gpu/gpu_math.h refuses -ffast-math.
CFLAGS   += -std=c11 -Wall -Wextra -Werror -ffp-contract=off -pthread $(SAN)
# -ldl: dlopen is in libc from glibc 2.34 (Debian 12), in libdl before.
LDLIBS   += $(PKG_LIBS) -lz -lm -pthread -ldl

# FFmpeg's libraries are optional (export/, docs/export.md): without them `svtwin export` says
# what to install. FFMPEG=0 builds without them even when present.
FFMPEG_PKGS := libavformat libavcodec libswscale libavutil
FFMPEG ?= $(shell pkg-config --exists $(FFMPEG_PKGS) 2>/dev/null && echo 1 || echo 0)
ifeq ($(FFMPEG),1)
CPPFLAGS += -DSVT_HAVE_FFMPEG=1 $(shell pkg-config --cflags $(FFMPEG_PKGS))
# One list, in the order the libraries depend on each other (each symbol is taken from the
# first that has it); left out when a SONAME is not found, so that the build stops there.
comma := ,
empty :=
space := $(empty) $(empty)
FFMPEG_SONAME_LIST := $(foreach l,avutil swscale avcodec avformat,\"$(call soname,$(l),lib$(l))\")
FFMPEG_SONAMES := $(if $(findstring \"\",$(FFMPEG_SONAME_LIST)),,-DSVT_FFMPEG_SONAMES=$(subst $(space),$(comma),$(strip $(FFMPEG_SONAME_LIST))))
$(BUILD)/export/video.o $(BUILD)/dataset/ds_import.o: CPPFLAGS += $(FFMPEG_SONAMES)
endif

MODULES := base ingest geo twin gpu formats export dataset
LIB_SRC := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
CU_SRC  := $(wildcard gpu/*.cu)
CLI_SRC := $(wildcard cli/*.c)
# The benchmark parts (`svtwin bench`), linked into the program.
BENCH_SRC := $(wildcard bench/*.c)
GEN_SRC := $(wildcard samples/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
# Hopper machine code plus PTX so newer cards JIT it.
NVFLAGS ?= -O3 -std=c++17 -gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_90,code=compute_90 \
	-Xcompiler -Wall,-Wextra,-Werror,-fPIC,-ffp-contract=off -I.
CPPFLAGS += -DSVT_HAVE_CUDA=1
LIB_OBJ += $(CU_SRC:%.cu=$(BUILD)/%.cu.o)
LDLIBS  += -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/targets/x86_64-linux/lib -lcudart_static -ldl -lrt -lstdc++
endif

LIB      := $(BUILD)/libsvtwin.a
PROG     := $(BUILD)/svtwin
GEN      := $(BUILD)/svtwin-samples
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps dataset test test-c test-python test-cluster asan bench fuzz clean samples

# Entry points first install what is missing (scripts/install-deps.sh: apt-get when root, else
# the exact command to run), then run again so pkg-config sees the new packages.
ENTRY := all dataset test test-c test-python asan bench
ifndef SVT_DEPS_OK
$(ENTRY):
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory SVT_DEPS_OK=1 $@
else
all: $(PROG) $(GEN)
endif

deps:
	scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -DSVT_HAVE_CUDA=1 -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PROG): $(CLI_SRC:%.c=$(BUILD)/%.o) $(BENCH_SRC:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(GEN): $(GEN_SRC:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcriterion
# The parity tests share their case table with `svtwin bench kernels` (bench/cases.h).
$(BUILD)/tests/test_gpu_ref: $(BUILD)/bench/cases.o

# The bundled capture: generated, never committed. A stamp keeps it from being redone.
samples: $(BUILD)/samples/capture/.done $(BUILD)/samples/runs/.done
$(BUILD)/samples/capture/.done: $(GEN)
	$(GEN) --out $(BUILD)/samples/capture --seed 1
	@touch $@
# Three capture runs of the first 184 m (other days, light, transients) for the reference tests.
$(BUILD)/samples/runs/.done: $(GEN)
	for r in 0 1 2; do $(GEN) --out $(BUILD)/samples/runs/run$$r --seed 1 --run $$r \
		--frames 24 --width 1024 --no-bad -q || exit 1; done
	@touch $@

ifdef SVT_DEPS_OK
dataset: $(PROG) $(if $(filter $(BUILD)/samples/capture,$(CAPTURE)),samples)
	$(PROG) build $(CAPTURE) -o $(OUT) $(if $(DISTRICTS),--districts $(DISTRICTS)) \
		$(if $(DONGS),--dongs $(DONGS))
	$(PROG) inspect $(OUT)/*.h5 | head -40

# Tests find the samples through SVT_SAMPLES and the real data through SVT_REAL_DATA.
test: test-c test-python test-cluster
# Verbose so that every skip prints its reason; the per-test RUN/PASS lines are dropped.
test-c: $(PROG) $(TESTS) samples
	@fail=0; for t in $(TESTS); do \
		echo "== $$t"; \
		{ SVT_BUILD=$(BUILD) SVT_SAMPLES=$(BUILD)/samples/capture \
		  SVT_REAL_DATA=../shared/data/real $$t --jobs 2 --verbose --short-filename 2>&1; \
		  echo $$? > $$t.rc; } | grep -Ev '^\[(RUN |PASS)\]|Criterion v|^\[====\] Running'; \
		[ "$$(cat $$t.rc)" = 0 ] || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail
# Cluster builds with the real Slurm and Open MPI (tests/test_cluster.sh; skips without root).
test-cluster: $(PROG) $(GEN)
	SVT_BUILD=$(BUILD) PYTHON=$(PYTHON) timeout 300 tests/test_cluster.sh
test-python: $(PROG) samples
	SVT_BUILD=$(BUILD) SVT_SAMPLES=$(BUILD)/samples/capture PYTHONPATH=python \
		$(PYTHON) -m unittest discover -s tests/python -v

asan:
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(MAKE) BUILD=build-asan CUDA=0 OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

bench: $(PROG) samples
	scripts/install-deps.sh --bench
	SVT_BUILD=$(BUILD) PYTHON=$(PYTHON) scripts/bench.sh
endif

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
