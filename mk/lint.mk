# Lint: ruff and mypy (both configured in pyproject.toml, installed by the test extra) over the package.

.PHONY: lint
test-more:: lint

lint: venv
	$(BIN)/ruff check src
	$(BIN)/mypy
