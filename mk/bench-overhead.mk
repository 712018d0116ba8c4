# Overhead benchmark (bench/bench_overhead.py) and its peer, OpenInference's decorator, which is a
# benchmark requirement only (bench/requirements-overhead.txt), never a dependency of modeltel.

OVERHEAD_STAMP := $(VENV)/.bench-overhead-stamp

.PHONY: bench-overhead
bench: $(OVERHEAD_STAMP)

$(OVERHEAD_STAMP): bench/requirements-overhead.txt $(STAMP)
	$(BIN)/python -m pip install -q -r bench/requirements-overhead.txt
	touch $@

bench-overhead: venv $(OVERHEAD_STAMP)
	$(BIN)/python bench/bench_overhead.py
