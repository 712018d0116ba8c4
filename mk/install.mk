# `make install-collector` puts the collector on PATH as docs/backends.md and docs/deployment.md
# call it: $(PREFIX)/bin/otelcol-modeltel (PREFIX=/usr/local by default; PREFIX=$$HOME/.local
# for a user install; DESTDIR for packaging). Without it, call the build path
# _build/otelcol-modeltel/otelcol-modeltel, as docs/quickstart.md does.

PREFIX ?= /usr/local

.PHONY: install-collector
install-collector: collector
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(COLLECTOR) $(DESTDIR)$(PREFIX)/bin/otelcol-modeltel
	@echo "installed $(DESTDIR)$(PREFIX)/bin/otelcol-modeltel"
