"""followersync as installed from a wheel carries its migrations, which live in the repository's
top-level migrations/ folder and are installed as the package followersync.migrations (pyproject.toml).

The wheel is built from what the Dockerfile copies into the image (no Docker engine runs here), with
pip, and installed into a folder of its own; `followersync migrate` then runs from a temporary folder
in an interpreter that sees that folder and the dependencies, never this checkout or its editable
install. Seconds, or up to a minute when pip's isolated build environment must fetch setuptools
(pyproject.toml's build requirement) from the package index rather than pip's cache.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from followersync.store.db import head_revision
from followersync.store.views import VIEW_NAMES
from tests.harness import cli_env

ROOT = Path(__file__).resolve().parent.parent

# Every test here starts a process; on one worker under pytest-xdist, which builds the wheel once.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("wheel")]

# Run with -I -S: neither this checkout (no current folder, no PYTHONPATH) nor site-packages' .pth files
# (the editable install's finder) are on the path; only the installed wheel, first, then the folders
# where the dependencies are installed, as plain folders.
RUN_INSTALLED = """
import json, runpy, sys
sys.path[:0] = [sys.argv.pop(1)]
sys.path += json.loads(sys.argv.pop(1))
if sys.argv[1] == "--where":
    import followersync.migrations
    from alembic.script import ScriptDirectory
    from followersync.store.db import alembic_config
    import sqlalchemy as sa
    script = ScriptDirectory.from_config(alembic_config(sa.create_engine("sqlite://")))
    print(json.dumps([followersync.__file__, followersync.migrations.__file__, script.dir]))
else:
    runpy.run_module("followersync", run_name="__main__", alter_sys=True)
"""


def _docker_context(dest: Path) -> None:
    """Copy what the Dockerfile's COPY lines copy into the image before its `pip install .`."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] != ["COPY"]:
            continue
        *sources, target = words[1:]
        assert not target.startswith("/") and not any(s.startswith("--") for s in sources), line
        for source in sources:
            out = dest / target / source if target.endswith("/") else dest / target
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, out)


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    _docker_context(work / "context")
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(work / "dist"), str(work / "context"), cwd=work)
    [built] = (work / "dist").glob("followersync-*.whl")
    return built


def _sources() -> set[str]:
    """The package's files in this checkout, named as in the wheel: followersync/ as it is, and
    migrations/ as followersync/migrations/ (the package-dir mapping of pyproject.toml)."""
    names = set()
    for folder, installed in (("followersync", "followersync"), ("migrations", "followersync/migrations")):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                names.add(f"{installed}/{path.relative_to(ROOT / folder).as_posix()}")
    return names


def test_the_migrations_package_is_the_top_level_folder() -> None:
    import followersync.migrations

    # A followersync/migrations/ directory left from before the move (say, its __pycache__) would be a
    # namespace package that hides the mapping of an editable install.
    assert followersync.migrations.__file__ == str(ROOT / "migrations" / "__init__.py"), (
        f"followersync.migrations is {followersync.migrations!r}, not this checkout's migrations/: "
        "reinstall (`pip install -e .`) and remove any followersync/migrations/ directory"
    )


def test_the_wheel_holds_every_module_and_the_migrations(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = {n for n in whl.namelist() if not n.startswith("followersync-")}
    migrations = "followersync/migrations"
    assert f"{migrations}/versions/0003_missing_before_unfollowed.py" in names
    assert {f"{migrations}/frozen/views_0001.py", f"{migrations}/frozen/views_0003.py"} <= names
    assert {f"{migrations}/env.py", f"{migrations}/script.py.mako"} <= names
    # Nothing forgotten (pyproject.toml lists the packages by hand) and nothing else.
    assert names == _sources()


def test_the_installed_wheel_migrates_a_new_database(wheel: Path, tmp_path: Path) -> None:
    installed = tmp_path / "installed"
    _pip("install", "--quiet", "--no-deps", "--target", str(installed), str(wheel), cwd=tmp_path)
    paths = sysconfig.get_paths()
    dependencies = json.dumps(list(dict.fromkeys([paths["purelib"], paths["platlib"]])))
    elsewhere = tmp_path / "elsewhere"  # the current folder: no checkout, no followersync.toml
    elsewhere.mkdir()
    database = tmp_path / "followersync.db"
    env = cli_env(FOLLOWERSYNC_DATABASE_URL=f"sqlite:///{database}")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-I", "-S", "-c", RUN_INSTALLED, str(installed), dependencies, *args]
        return subprocess.run(argv, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)

    where = run("--where")
    assert where.returncode == 0, where.stderr
    package, migrations, script_dir = json.loads(where.stdout)
    assert Path(package) == installed / "followersync" / "__init__.py"
    assert Path(migrations) == installed / "followersync" / "migrations" / "__init__.py"
    assert Path(script_dir).resolve() == (installed / "followersync" / "migrations").resolve()

    done = run("migrate")
    assert done.returncode == 0, done.stderr
    assert f"schema empty -> {head_revision()}" in done.stdout

    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert set(VIEW_NAMES) <= views
