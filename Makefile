# modeltel: `make demo` runs the main job, `make test` sets everything up and runs every test.
# Component fragments live in mk/*.mk (the collector build, backend servers, ...): each adds
# its own prerequisites to `test-prereqs::` and its own test steps to `test-more::`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BUILD  := _build

.PHONY: all venv test test-prereqs test-more demo bench clean
all: test

# The virtualenv is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

test-prereqs:: venv
test-more::
	@true

test: venv
	$(MAKE) test-prereqs
	$(BIN)/python -m pytest
	$(MAKE) test-more

demo: venv
	$(BIN)/python examples/demo.py

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(BUILD)

-include mk/*.mk
