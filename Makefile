# snnc: `make demo` and `make test` do all set-up on a fresh Debian machine (root, Python 3.11).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NETX_STAMP := $(VENV)/.netx-installed
APT_PACKAGES := gcc g++ make libc6-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
	valgrind cmake
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install install-netx demo test test-netx test-slow fuzz bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt Makefile
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	  $(PY) -c 'import ensurepip' 2>/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }; \
	fi
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	# lava-nc 0.10.0 declares Python < 3.11 but is pure Python; its dependencies come from
	# requirements.txt and the 3.11 compatibility shim lives in snnc.backends.loihi.
	$(BIN)/pip install -q --no-deps --ignore-requires-python lava-nc==0.10.0
	# rockpool 3.1 provides XyloSim (around xylosim, from requirements.txt); its device drivers
	# need samna, which the Xylo backend never imports, so it is installed without dependencies.
	$(BIN)/pip install -q --no-deps rockpool==3.1.0
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# lava-dl's netx (to load network.net as a lava-dl user does): torch (CPU) and OpenCV, pinned
# by requirements-netx.txt; lava-dl 0.6.0 itself declares torch < 2.4 and Python < 3.11, so it
# is installed without its dependencies, like lava-nc.
install-netx: $(NETX_STAMP)

$(NETX_STAMP): $(STAMP) requirements-netx.txt
	$(BIN)/pip install -q -c requirements-netx.txt torch opencv-python-headless
	$(BIN)/pip install -q --no-deps --ignore-requires-python lava-dl==0.6.0
	touch $(NETX_STAMP)

demo: install
	$(BIN)/python examples/digits/demo.py
	$(BIN)/python examples/spikeformer/demo.py
	$(BIN)/python examples/gestures/demo.py

# The suite minus the broad sweeps marked `slow` (each has a fast variant that always runs).
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not netx" tests

# network.net loaded by lava-dl's own netx and run against simulate -b lava (.ci/run runs it).
test-netx: install-netx
	$(BIN)/python -m pytest -q -m netx tests

test-slow: install
	$(BIN)/python -m pytest -q -n 2 -m slow tests

fuzz: install
	$(BIN)/python -m pytest -q -n 2 tests/fuzz --hypothesis-profile=fuzz

bench: install
	$(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build out *.egg-info
