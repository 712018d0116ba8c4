# Lint: ruff (configured in pyproject.toml, installed by the test extra) over the package.
# mypy is not run yet: it reports errors on main that have not been worked off.

.PHONY: lint
test-more:: lint

lint: venv
	$(BIN)/ruff check src
