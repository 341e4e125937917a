"""docker-compose.yml is checked by parsing it (no Docker engine runs here), and by
`docker compose config` where the compose plugin exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from followersync.config import load_settings

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


def test_secrets_come_from_the_environment_only() -> None:
    text = COMPOSE.read_text()
    services = _compose()["services"]
    for name in ("migrate", "worker", "simulator"):
        key = services[name]["environment"]["POSTPRESS_API_KEY"]
        assert re.fullmatch(r"\$\{POSTPRESS_API_KEY:\?[^}]*\}", key), name
    assert re.search(r"POSTGRES_PASSWORD: \$\{POSTGRES_PASSWORD:\?", text)
    url = services["worker"]["environment"]["FOLLOWERSYNC_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url
    assert "pp_live" not in text


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
