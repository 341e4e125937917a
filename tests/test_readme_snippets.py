"""The README's scheduling snippets work as pasted: each is checked by the tool that reads it, or by
its own rules where no such tool is at hand (README, "Scheduling")."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

README = Path(__file__).resolve().parent.parent / "README.md"


def snippets(language: str) -> list[str]:
    """The README's fenced blocks of `language`, in order."""
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def unit_files() -> dict[str, str]:
    """The systemd units of the README's ini block, by file name (each starts with a path comment)."""
    (block,) = snippets("ini")
    units: dict[str, str] = {}
    for part in re.split(r"^# (/etc/systemd/system/\S+)\n", block, flags=re.MULTILINE)[1:]:
        if part.startswith("/etc/"):
            name = Path(part).name
        else:
            units[name] = part
    return units


def test_systemd_units_have_no_trailing_comments() -> None:
    units = unit_files()
    assert set(units) == {"followersync.service", "followersync.timer"}
    for name, text in units.items():
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith(("#", ";", "[")):
                # systemd reads everything after `=` as the value: a `#` there is part of it.
                assert "#" not in line, f"{name}: {line!r}"


@pytest.mark.integration  # systemd-analyze, a process
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing: install systemd (apt install systemd)")
        pytest.skip("systemd-analyze is not installed (apt install systemd), so the units are not verified")
    for name, text in unit_files().items():
        program = re.search(r"^ExecStart=(\S+)", text, flags=re.MULTILINE)
        if program is not None:
            assert program[1] == "/srv/followersync/.venv/bin/followersync"
            # The unit as pasted, but for a program that exists on this machine.
            text = text.replace(program[1], sys.executable)
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(p) for p in sorted(tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


CRON_FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def valid_cron_field(field: str, low: int, high: int) -> bool:
    for item in field.split(","):
        base, _, step = item.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        if not all(b.isdigit() and low <= int(b) <= high for b in bounds) or len(bounds) > 2:
            return False
    return True


def test_the_cron_line_has_five_valid_time_fields_and_runs_the_worker_once() -> None:
    (block,) = snippets("cron")
    (line,) = [x for x in block.splitlines() if x.strip() and not x.startswith("#")]
    fields = line.split(None, 5)
    for field, (low, high) in zip(fields[:5], CRON_FIELDS, strict=True):
        assert valid_cron_field(field, low, high), field
    command = fields[5]
    assert "%" not in command  # cron turns % into a newline
    assert "/.venv/bin/followersync" in command and "worker --once" in command


def test_the_kubernetes_cronjob_has_what_a_cronjob_needs() -> None:
    (block,) = [b for b in snippets("yaml") if "kind: CronJob" in b]
    job: dict[str, Any] = yaml.safe_load(block)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    assert job["metadata"]["name"]
    schedule = job["spec"]["schedule"].split()
    assert len(schedule) == 5 and all(
        valid_cron_field(f, *r) for f, r in zip(schedule, CRON_FIELDS, strict=True)
    )
    assert job["spec"]["concurrencyPolicy"] in ("Allow", "Forbid", "Replace")
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")  # a Job's pods may not restart Always
    volumes = {v["name"] for v in pod.get("volumes", [])}
    (container,) = pod["containers"]
    assert container["name"] and container["image"]
    assert container["args"][-2:] == ["worker", "--once"]
    for env in container["env"]:
        assert set(env) in ({"name", "value"}, {"name", "valueFrom"}), env
        if "valueFrom" in env:
            assert set(env["valueFrom"]["secretKeyRef"]) == {"name", "key"}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes
    names = {e["name"] for e in container["env"]}
    assert {"POSTPRESS_API_KEY", "FOLLOWERSYNC_CONFIG"} <= names
