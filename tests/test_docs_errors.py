"""The error lines docs/configuration.md shows are what the program prints, word for word."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import cli_env

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SOURCE = '[[sources]]\nname = "{name}"\nprovider = "{provider}"\naccount_id = "acc_1"\n'
LI_PAGE = SOURCE.format(name="acme-page", provider="linkedin")

# What makes each documented line: the file, the environment, the command.
CASES = {
    "sync.concurrency: must be": ("[sync]\nconcurrency = 0\n", {}, "status"),
    "sync.concurency: unknown key": ("[sync]\nconcurency = 3\n", {}, "status"),
    "sync.lease_ttl: must be": ('[sync]\nlease_ttl = "0s"\n', {}, "status"),
    "sources[2].provider": (LI_PAGE + SOURCE.format(name="b", provider="tiktok"), {}, "status"),
    "sources: duplicate": (LI_PAGE + SOURCE.format(name="b", provider="linkedin") + LI_PAGE, {}, "status"),
    "notify[1]: give either": (
        '[[notify]]\nurl = "https://x.example"\ncommand = ["/bin/true"]\n',
        {},
        "status",
    ),
    "api.api_key: the API key": ('[api]\napi_key = "pp_live_1"\n', {}, "status"),
    "api.base_url (from": ("", {"FOLLOWERSYNC_BASE_URL": "ftp://example.com"}, "status"),
    "followersync.toml: invalid TOML": ("[api]\n\n\n\n\n\ntimeout 3\n", {}, "status"),
    "POSTPRESS_API_KEY is not set": (LI_PAGE, {"POSTPRESS_API_KEY": ""}, "sync"),
    "POSTPRESS_API_KEY: contains a space": (LI_PAGE, {"POSTPRESS_API_KEY": "sim key"}, "sync"),
    "database.url: an in-memory": ('[database]\nurl = "sqlite://"\n', {}, "status"),
    "database.url: the folder": (
        '[database]\nurl = "sqlite:////srv/missing/followersync.db"\n' + LI_PAGE,
        {},
        "status",
    ),
}


def documented_errors() -> list[str]:
    text = DOCS.read_text(encoding="utf-8").split("## Errors", 1)[1]
    block = text.split("```text\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def test_every_documented_error_line_has_a_case() -> None:
    lines = documented_errors()
    assert all(line.startswith("Error: ") for line in lines)
    assert sorted(next(k for k in CASES if line.startswith("Error: " + k)) for line in lines) == sorted(CASES)


@pytest.mark.parametrize("line", documented_errors())
def test_the_program_prints_the_documented_line(line: str, tmp_path: Path) -> None:
    toml, env, command = next(case for key, case in CASES.items() if line.startswith("Error: " + key))
    (tmp_path / "followersync.toml").write_text(toml)
    done = subprocess.run(
        [sys.executable, "-m", "followersync", command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=cli_env(**env),
    )
    assert (done.returncode, done.stderr) == (2, line + "\n")
