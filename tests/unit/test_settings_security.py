"""Settings: validated at start-up, secrets never printed, SASL/TLS options reach every client."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from hanger.settings import Settings
from streams.app import broker_urls, create_app


def test_environment_is_read_with_the_hanger_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANGER_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("HANGER_MAX_IN_FLIGHT", "4")
    settings = Settings()
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"
    assert settings.max_in_flight == 4
    assert broker_urls(settings) == ["kafka://k1:9092", "kafka://k2:9092"]


@pytest.mark.parametrize(("name", "value"), [("HANGER_MAX_IN_FLIGHT", "0"),
                                             ("HANGER_RETRY_ATTEMPTS", "0"),
                                             ("HANGER_KAFKA_SECURITY_PROTOCOL", "TLS")])
def test_bad_settings_fail_at_start_up(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_secrets_are_not_in_reprs_or_dumps() -> None:
    settings = Settings(
        kafka_sasl_password="hunter2-kafka",  # type: ignore[arg-type]
        database_url="postgresql://hanger:hunter2-db@db/hanger",  # type: ignore[arg-type]
    )
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter2" not in text


def test_sasl_ssl_options_reach_aiokafka_and_faust(tmp_path: Path) -> None:
    import subprocess

    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=test-ca"],
                   check=True, capture_output=True)
    settings = Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc-hanger", kafka_sasl_password="pw",  # type: ignore[arg-type]
        kafka_ssl_cafile=cert,
    )
    options = settings.kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("svc-hanger", "pw")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    app = create_app(settings)
    credentials = app.conf.broker_credentials
    assert credentials is not None and credentials.username == "svc-hanger"
