# Lint: ruff over the package and the tests, mypy over the package (both configured in
# pyproject.toml, installed by the test extra); gofmt over the Go modules.

.PHONY: lint
test-more:: lint

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	@test -z "$$(gofmt -l src)" || { echo 'gofmt: these Go files need formatting:'; gofmt -l src; exit 1; }
