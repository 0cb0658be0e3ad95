# Each target creates/uses .venv itself. torch is installed first, pinned to the CPU build,
# so that `pip install -e .` never pulls a multi-GB CUDA wheel.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0

.PHONY: demo test bench venv clean install-check

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/preattentive demo

test: $(STAMP)
	$(PY) -m pytest -q

# Build a wheel, install it into a fresh venv (CPU torch first) and run `preattentive demo --quick` outside the
# checkout (~3 min; a slow test, so `make test` skips it).
install-check: $(STAMP)
	TORCH=$(TORCH) $(PY) -m pytest -q -m slow tests/test_packaging.py

# CPU benchmarks; benchmarks/nets_gpu_check.py is meant for a CUDA machine and is run by hand there.
BENCHES := benchmarks/stimuli.py benchmarks/training.py benchmarks/nets.py benchmarks/evaluation.py \
           benchmarks/clip_llava.py

bench: $(STAMP)
	for f in $(BENCHES); do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info
