# The drift report test renders the HTML page in headless Chromium (Debian's chromium).
# Installed from apt only when no chromium is on PATH; tests/drift/test_report_browser.py
# skips with a clear reason when it is absent (e.g. a developer machine without root).

.PHONY: chromium
test-prereqs:: chromium

chromium:
	@if command -v chromium >/dev/null 2>&1; then \
		echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null && \
		echo "chromium: installed $$(chromium --version)"; \
	else \
		echo "chromium: not installed and cannot apt-get install (not root); the report browser test will skip"; \
	fi
