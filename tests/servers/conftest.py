"""Fixtures for the server tests: an OTLP capture and a model trained in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends._capture import OtlpCapture

from ._harness import free_port, train_iris_model

pytestmark = pytest.mark.e2e


@pytest.fixture
def otlp():
    capture = OtlpCapture(free_port()).start()
    try:
        yield capture
    finally:
        capture.stop()


@pytest.fixture(scope="session")
def iris_model_path(tmp_path_factory) -> Path:
    return train_iris_model(tmp_path_factory.mktemp("model") / "iris.joblib")
