# The otelcol-modeltel collector distribution (collector-config/builder.yaml) with the
# mldrift processor (src/mldriftprocessor).
#
#   make collector        build _build/otelcol-modeltel/otelcol-modeltel (only when its inputs changed)
#   make mldrift-test     go vet and go test the processor (unit, golden, shared drift vectors, fuzz seeds)
#   make mldrift-bench    the processor's Go benchmarks (points/s, bytes per stream)
#   make mlperformance-test   go vet and go test the mlperformance connector (src/mlperformanceconnector)
#   make mlperformance-bench  its Go benchmarks (outcomes/s joined with storage, bytes per pending key)

GO              ?= go
OCB_VERSION     := v0.161.0
OCB             := $(BUILD)/bin/builder-$(OCB_VERSION)
COLLECTOR_DIR   := $(BUILD)/otelcol-modeltel
COLLECTOR       := $(COLLECTOR_DIR)/otelcol-modeltel
COLLECTOR_STAMP := $(COLLECTOR_DIR)/.built-stamp
MLDRIFT_DIR     := src/mldriftprocessor
MLDRIFT_SOURCES := $(shell find $(MLDRIFT_DIR) -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'metadata.yaml' \) -not -name '*_test.go' 2>/dev/null)
MLPERF_DIR      := src/mlperformanceconnector
MLPERF_SOURCES  := $(shell find $(MLPERF_DIR) -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'metadata.yaml' \) -not -name '*_test.go' 2>/dev/null)
# What both share (src/mlcommon: special function, clock, lifecycle, walk, baseline header, componentmeta): a module of its own, replaced by path.
MLCOMMON_DIR    := src/mlcommon
MLCOMMON_SOURCES := $(shell find $(MLCOMMON_DIR) -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'metadata.yaml' \) -not -name '*_test.go' 2>/dev/null)
export GOFLAGS  ?= -buildvcs=false

.PHONY: collector mldrift-test mldrift-bench mlperformance-test mlperformance-bench

$(OCB):
	mkdir -p $(BUILD)/bin
	GOBIN=$(abspath $(BUILD)/bin) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(BUILD)/bin/builder $@

# Rebuilt only when the manifest or the processor's sources change (the stamp), and the
# Go module and build caches make a rebuild after a processor change take seconds.
$(COLLECTOR_STAMP): collector-config/builder.yaml $(MLDRIFT_SOURCES) $(MLPERF_SOURCES) $(MLCOMMON_SOURCES) | $(OCB)
	$(OCB) --config collector-config/builder.yaml
	test -x $(COLLECTOR)
	touch $@

collector: $(COLLECTOR_STAMP)

mldrift-test:
	cd $(MLCOMMON_DIR) && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd $(MLDRIFT_DIR) && $(GO) vet ./... && $(GO) test -count=1 ./...

mldrift-bench:
	cd $(MLDRIFT_DIR) && $(GO) test -run '^$$' -bench . -benchmem ./...

mlperformance-test:
	cd $(MLPERF_DIR) && $(GO) vet ./... && $(GO) test -count=1 ./...

mlperformance-bench:
	cd $(MLPERF_DIR) && MLPERF_MEASURE=1 $(GO) test -run TestBytesPerPending -bench . -benchmem -v . | grep -E 'Benchmark|bytes per'

test-prereqs:: collector
test-more:: mldrift-test mlperformance-test

# `make demo` starts the collector: build it first (only when its inputs changed).
demo: collector
