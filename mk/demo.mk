# `make demo-stack`: the demo of `make demo`, then the collector and a real Prometheus (Debian's
# package, `prometheus` in mk/backends.mk) kept running with the shipped alert rules, a 2 s
# scrape/evaluation interval and the rules' `for:` cut to 20 s; the demo prints the URLs where
# drift over time is graphed. Ctrl-C stops everything it started.

.PHONY: demo-stack
demo-stack: venv collector prometheus
	$(BIN)/python examples/demo.py --stack
