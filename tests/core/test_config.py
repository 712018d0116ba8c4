"""Config: defaults, env vars, explicit overrides, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from modeltel import Config, ConfigError


def test_defaults_env_and_overrides_precedence():
    assert Config.from_env({}).log_sample_rate is None  # unset: the rule by sampling (see Config)
    env = {"MODELTEL_LOG_SAMPLE_RATE": "0.25", "MODELTEL_MAX_FEATURES": "12"}
    config = Config.from_env(env)
    assert (config.log_sample_rate, config.max_features) == (0.25, 12)
    assert Config.from_env(env, log_sample_rate=0.5).log_sample_rate == 0.5  # argument wins
    assert Config.from_env(env, log_sample_rate=None).log_sample_rate == 0.25  # None: not given


def test_every_field_documents_its_env_var():
    for f in dataclasses.fields(Config):
        assert f.metadata["env"].startswith("MODELTEL_")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODELTEL_LOG_SAMPLE_RATE": "1.5"}, "MODELTEL_LOG_SAMPLE_RATE='1.5'"),
        ({"MODELTEL_MAX_FEATURES": "-3"}, "MODELTEL_MAX_FEATURES='-3'"),
        ({"MODELTEL_ENABLED": "maybe"}, "MODELTEL_ENABLED='maybe'"),
        ({"MODELTEL_EXPORTER": "kafka"}, "MODELTEL_EXPORTER='kafka'"),
        ({"MODELTEL_EXPORT_INTERVAL": "0"}, "MODELTEL_EXPORT_INTERVAL='0'"),
    ],
)
def test_invalid_env_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_invalid_arguments_and_unknown_settings_are_errors():
    with pytest.raises(ConfigError, match="raw_sample_rate"):
        Config.from_env({}, raw_sample_rate=3)
    with pytest.raises(ConfigError, match="unknown modeltel setting 'log_rate'"):
        Config.from_env({}, log_rate=0.1)


def test_exporter_defaults_to_otlp_only_when_an_endpoint_is_set():
    assert Config.from_env({}).resolved_exporter({}) == "console"
    assert Config.from_env({}).resolved_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == "otlp"
    assert Config.from_env({}, exporter="none").resolved_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "x"}) == "none"


def test_redact_fields_are_parsed_from_a_comma_list():
    assert Config.from_env({"MODELTEL_REDACT_FIELDS": "ssn, email,,"}).redact_fields == ("ssn", "email")
