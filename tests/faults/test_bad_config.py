"""Bad configuration and bad arguments (docs/configuration.md#errors, docs/semantics.md#exit-codes):
exit code 2, one line on stderr that names the problem, no traceback, and not one request to the API.

All the cases run at once, each a real `followersync` process, before the first test looks at them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from followersync.simulator import Simulator
from tests.conftest import PG_ADMIN_URL
from tests.harness import cli_env
from tests.sim_support import LI, serving

# Every case runs once, in the module's `outcomes`: under pytest-xdist, on one worker (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("bad-config")

SOURCE = f'[[sources]]\nname = "{LI.name}"\nprovider = "{LI.provider}"\naccount_id = "{LI.account_id}"\n'


@dataclass(frozen=True)
class Case:
    args: list[str]  # after the program name; CONFIG stands for the case's configuration file
    named: list[str]  # what the error line must say
    config: str = ""  # added to a valid configuration
    env: dict[str, str] = field(default_factory=dict)


CONFIG = "<config>"
DEFAULT = ["--config", CONFIG, "sync"]

CASES = {
    "unknown key": Case(
        DEFAULT, ["sync.concurency: unknown key", 'did you mean "concurrency"?'], "[sync]\nconcurency = 3\n"
    ),
    "bad duration": Case(
        DEFAULT, ["api.timeout: must be a duration", '"5 minutes"'], '[api]\ntimeout = "5 minutes"\n'
    ),
    "unknown provider": Case(
        DEFAULT,
        ["sources[1].provider: unknown provider", "tiktok"],
        '[[sources]]\nname = "tt"\nprovider = "tiktok"\naccount_id = "acc_tt"\n',
    ),
    "duplicate source": Case(
        DEFAULT,
        ['duplicate source name "acme-page"', "sources[1] and sources[2]"],
        '[[sources]]\nname = "acme-page"\nprovider = "instagram"\naccount_id = "acc_ig"\n',
    ),
    "a source name made of SQL": Case(
        DEFAULT,
        ["sources[1].name:", "is not a valid source name"],
        "[[sources]]\nname = \"x'; DROP TABLE sources; --\"\nprovider = \"linkedin\"\naccount_id = \"a\"\n",
    ),
    "the API key in the file": Case(
        DEFAULT, ["api.api_key: the API key does not belong in the file", "POSTPRESS_API_KEY"],
        '[api]\napi_key = "pp_live_in_the_file_123"\n',
    ),
    "not TOML": Case(DEFAULT, ["invalid TOML", "(at line"], "this is = not = toml\n"),
    "missing file given with --config": Case(["--config", "/nonexistent/followersync.toml", "sync"],
                                             ["config file /nonexistent/followersync.toml does not exist"]),
    "unknown --source": Case([*DEFAULT, "--source", "nope"], ['no source named "nope"', "acme-page"]),
    "bad --mode": Case([*DEFAULT, "--mode", "fast"], ["--mode", "'fast' is not one of"]),
    "bad --log-format": Case(["--log-format", "xml", "--config", CONFIG, "sync"], ["--log-format", "'xml'"]),
    "unknown command": Case(["--config", CONFIG, "synch"], ["No such command 'synch'"]),
    "no API key for sync": Case(DEFAULT, ["POSTPRESS_API_KEY is not set"], env={"POSTPRESS_API_KEY": ""}),
    "no API key for worker": Case(
        ["--config", CONFIG, "worker", "--once"],
        ["POSTPRESS_API_KEY is not set"],
        env={"POSTPRESS_API_KEY": ""},
    ),
    "unreachable database": Case(
        DEFAULT,
        ["database.url: cannot use postgresql+psycopg://postgres@127.0.0.1:1/db", "refused"],
        env={"FOLLOWERSYNC_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/db"},
    ),
    "a PostgreSQL database that does not exist": Case(
        DEFAULT,
        ["database.url: cannot use", "fs_no_such_db"],
        env={"FOLLOWERSYNC_DATABASE_URL": str(sa.make_url(PG_ADMIN_URL).set(database="fs_no_such_db"))},
    ),
    "a SQLite file in a missing folder": Case(
        DEFAULT,
        ["database.url: the folder /nonexistent/folder of sqlite:////nonexistent/folder/f.db does not exist"],
        env={"FOLLOWERSYNC_DATABASE_URL": "sqlite:////nonexistent/folder/f.db"},
    ),
    "migrate of a SQLite file in a missing folder": Case(
        ["--config", CONFIG, "migrate"],
        ["database.url: the folder /nonexistent/folder of sqlite:////nonexistent/folder/f.db does not exist"],
        env={"FOLLOWERSYNC_DATABASE_URL": "sqlite:////nonexistent/folder/f.db"},
    ),
    "status of a SQLite file in a missing folder": Case(
        ["--config", CONFIG, "status"],
        ["database.url: the folder /nonexistent/folder of sqlite:////nonexistent/folder/f.db does not exist"],
        env={"FOLLOWERSYNC_DATABASE_URL": "sqlite:////nonexistent/folder/f.db"},
    ),
    "an in-memory SQLite database for sync": Case(
        DEFAULT,
        ["database.url (from FOLLOWERSYNC_DATABASE_URL): an in-memory SQLite database", "sqlite:///PATH"],
        env={"FOLLOWERSYNC_DATABASE_URL": "sqlite:///:memory:"},
    ),
    "an in-memory SQLite database for migrate": Case(
        ["--config", CONFIG, "migrate"],
        ["database.url (from FOLLOWERSYNC_DATABASE_URL): an in-memory SQLite database"],
        env={"FOLLOWERSYNC_DATABASE_URL": "sqlite://"},
    ),
    "a URL that is no database": Case(
        DEFAULT,
        ['database.url (from FOLLOWERSYNC_DATABASE_URL): unsupported database "https"'],
        env={"FOLLOWERSYNC_DATABASE_URL": "https://example.com/followers"},
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def api() -> Iterator[Simulator]:
    # Module scope, like `outcomes`, which runs every case against it: make_sim serves one test.
    with serving(accounts={LI: 10}) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def outcomes(
    api: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("bad-config")
    valid = f'[database]\nurl = "sqlite:///{folder / "f.db"}"\n{SOURCE}'

    def run(n: int, case: Case) -> subprocess.CompletedProcess[str]:
        config = folder / f"case-{n}.toml"
        config.write_text(case.config + "\n" + valid)  # the case's tables first: [database] must stay
        args = [str(config) if arg == CONFIG else arg for arg in case.args]
        env = cli_env(FOLLOWERSYNC_BASE_URL=api.base_url, **case.env)
        argv = [sys.executable, "-m", "followersync", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = [pool.submit(run, n, case) for n, case in enumerate(CASES.values())]
        return {name: future.result() for name, future in zip(CASES, done, strict=True)}


def is_usage_hint(line: str) -> bool:
    """The lines click adds around an argument error: how to get help, not the error itself."""
    return line.startswith(("Usage: ", "Try '")) or not line.strip()


@pytest.mark.parametrize("case", CASES)
def test_exits_2_with_one_line_naming_the_problem(
    outcomes: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    done = outcomes[case]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    [error] = [line for line in done.stderr.splitlines() if not is_usage_hint(line)]
    assert error.startswith("Error: ")
    for words in CASES[case].named:
        assert words in error


def test_no_bad_configuration_reaches_the_api(
    outcomes: dict[str, subprocess.CompletedProcess[str]], api: Simulator
) -> None:
    assert api.requests == []


def test_the_key_written_in_the_file_is_not_repeated(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    assert "pp_live_in_the_file_123" not in outcomes["the API key in the file"].stderr
