"""docker-compose.yml is checked by parsing it (no Docker engine runs here), and by
`docker compose config` where the compose plugin exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from followersync.config import load_settings

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_services_are_wired_in_order_with_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "simulator", "migrate", "worker"}
    for name in ("postgres", "simulator", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["simulator"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["worker"]["command"][-1] == "worker"
    assert services["simulator"]["command"][0] == "simulate"


# `${NAME:?message}`: the value of NAME in the environment (or .env), and compose refuses to start
# without it.
FROM_THE_ENVIRONMENT = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]*\}")
SECRET = re.compile(r"KEY|PASSWORD|SECRET|TOKEN")
# A postpress key as the API reference shows one (`X-API-KEY: pp_live_...`).
LOOKS_LIKE_A_KEY = re.compile(r"pp_(live|test)_\w")


def _strings(node: object) -> Iterator[str]:
    """Every key and value of the parsed file, as text."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif node is not None:
        yield str(node)


def test_secrets_come_from_the_environment_only() -> None:
    compose = _compose()
    secrets = {
        (service, name): str(value)
        for service, spec in compose["services"].items()
        for name, value in spec.get("environment", {}).items()
        if SECRET.search(name)
    }
    assert set(secrets) >= {
        ("migrate", "POSTPRESS_API_KEY"),
        ("worker", "POSTPRESS_API_KEY"),
        ("simulator", "POSTPRESS_API_KEY"),
        ("postgres", "POSTGRES_PASSWORD"),
    }
    for (service, name), value in secrets.items():
        taken = FROM_THE_ENVIRONMENT.fullmatch(value)
        assert taken is not None and taken["name"] == name, f"{service}: {name} is not ${{{name}:?...}}"
    # The database URL's password is the same variable, not a copy of it.
    url = compose["services"]["worker"]["environment"]["FOLLOWERSYNC_DATABASE_URL"]
    password = re.fullmatch(
        r"postgresql\+psycopg://followersync:(?P<password>.+)@postgres:5432/followersync", url
    )
    assert password is not None, url
    taken = FROM_THE_ENVIRONMENT.fullmatch(password["password"])
    assert taken is not None and taken["name"] == "POSTGRES_PASSWORD", url
    # Nor a key anywhere else in the file (a command line, a health check).
    assert [text for text in _strings(compose) if LOOKS_LIKE_A_KEY.search(text)] == []


def test_the_mounted_configuration_loads(tmp_path: Path) -> None:
    worker = _compose()["services"]["worker"]
    [mount] = worker["volumes"]
    host_path, container_path, _ = mount.split(":")
    assert container_path == worker["environment"]["FOLLOWERSYNC_CONFIG"]
    env = {
        "POSTPRESS_API_KEY": "from-the-environment",
        "FOLLOWERSYNC_DATABASE_URL": "postgresql+psycopg://followersync:pw@postgres:5432/followersync",
        "FOLLOWERSYNC_BASE_URL": worker["environment"]["FOLLOWERSYNC_BASE_URL"],
    }
    settings = load_settings(ROOT / host_path, env=env)
    assert [s.provider for s in settings.sources] == ["linkedin", "instagram"]
    assert settings.api.base_url == "http://simulator:8080/api/v1"


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here; the file is checked by parsing")
    env = {"POSTPRESS_API_KEY": "k", "POSTGRES_PASSWORD": "p", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
