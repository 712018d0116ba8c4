"""The e2e tests here start the built collector with the e2e fixtures."""

from e2e.conftest import collector_bin, start_collector  # noqa: F401 - fixtures
from backends.conftest import prometheus_bin, start_prometheus  # noqa: F401, E402 - fixtures
