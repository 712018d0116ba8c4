# Backend servers for tests/backends: Jaeger v2 built from the Go module proxy,
# Prometheus and promtool from Debian's package. Both are prerequisites of `make test`.

JAEGER_BIN    := $(BUILD)/bin/jaeger
JAEGER_MOD    := tests/backends/jaegerbuild

.PHONY: jaeger prometheus backends collector-full
test-prereqs:: jaeger prometheus collector-full

# Jaeger's go.mod has a replace directive, so `go install <pkg>@<version>` refuses it; the
# wrapper module pins it as a tool and `go install tool` builds it. Rebuilt only when the pin
# changes; the Go module and build caches are reused. About 8 min on 2 cores from a cold build
# cache (345 s user CPU).
$(JAEGER_BIN): $(JAEGER_MOD)/go.mod $(JAEGER_MOD)/go.sum
	mkdir -p $(BUILD)/bin
	cd $(JAEGER_MOD) && GOBIN=$(abspath $(BUILD)/bin) go install tool
	touch $@

jaeger: $(JAEGER_BIN)

# Installed only if missing; run as a plain process by the tests, never as the system service.
prometheus:
	@if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then :; else \
	  apt-get -o DPkg::Lock::Timeout=600 update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends prometheus; \
	fi

# The full distribution (collector-config/builder-full.yaml: builder.yaml plus the
# prometheusremotewrite exporter). Built after `collector` so that it reuses its build cache:
# about 22 s more (8 s user CPU) on 2 cores, and 2 MB of binary.
COLLECTOR_FULL_STAMP := $(BUILD)/otelcol-modeltel-full/.built-stamp
BACKENDS_MLDRIFT_SOURCES := $(shell find src/mldriftprocessor src/mlperformanceconnector src/mlcommon -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'metadata.yaml' \) -not -name '*_test.go' 2>/dev/null)

$(COLLECTOR_FULL_STAMP): collector-config/builder-full.yaml $(BACKENDS_MLDRIFT_SOURCES) | collector
	$(OCB) --config collector-config/builder-full.yaml
	test -x $(BUILD)/otelcol-modeltel-full/otelcol-modeltel
	touch $@

collector-full: $(COLLECTOR_FULL_STAMP)

backends: jaeger prometheus collector-full
