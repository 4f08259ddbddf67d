"""docker-compose.yml cannot be started here (no Docker engine), so check its structure: every
project service runs a command the CLI has, and every HANGER_* variable is a real setting."""

from __future__ import annotations

from pathlib import Path

import yaml

from hanger.cli import WORKERS, build_parser
from hanger.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_infrastructure_services_are_kafka_kraft_and_postgres() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:")


def test_every_project_service_command_parses_with_the_cli() -> None:
    parser = build_parser()
    built = {n: s for n, s in compose()["services"].items() if "build" in s}
    assert {"bridge", "enrich", "registrar"} <= set(built)
    for name, service in built.items():
        args = parser.parse_args(service["command"])
        assert callable(args.func), name
        if service["command"][0] == "worker":
            assert service["command"][1] in {"enrich", *WORKERS}


def test_every_hanger_variable_is_a_setting() -> None:
    fields = {f"HANGER_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose()["services"].items():
        for var in (service.get("environment") or {}):
            if var.startswith("HANGER_"):
                assert var in fields, f"{name}: {var} is not a setting"


def test_dockerfile_installs_the_packages_the_cli_needs() -> None:
    text = (REPO / "Dockerfile").read_text()
    for package in ("hanger", "adapters", "streams", "inference", "db"):
        assert f"COPY {package} " in text
    assert 'ENTRYPOINT ["hanger"]' in text
