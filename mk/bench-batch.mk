# Batch summarisation benchmark (bench/bench_batch.py) and its whylogs peer, which gets its own
# virtualenv under _build/ so that its pins never touch .venv. Rebuilt only when
# bench/requirements-whylogs.txt changes; if whylogs does not install, the benchmark says so
# and skips it.

WHYLOGS_VENV  := $(BUILD)/whylogs-venv
WHYLOGS_STAMP := $(WHYLOGS_VENV)/.installed-stamp

.PHONY: bench-whylogs bench-batch
bench: bench-whylogs

$(WHYLOGS_STAMP): bench/requirements-whylogs.txt
	test -x $(WHYLOGS_VENV)/bin/python || $(PYTHON) -m venv $(WHYLOGS_VENV)
	if $(WHYLOGS_VENV)/bin/python -m pip install -q -r bench/requirements-whylogs.txt; then touch $@; \
	else echo "whylogs did not install: bench_batch.py will skip it"; fi

bench-whylogs: $(WHYLOGS_STAMP)

bench-batch: venv bench-whylogs
	$(BIN)/python bench/bench_batch.py
