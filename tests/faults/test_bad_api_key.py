"""An API key the X-API-KEY header cannot carry (a space, a tab, a non-ASCII character: a key pasted
badly) is a configuration error of the commands that call the API: one line naming POSTPRESS_API_KEY
and what is wrong with it, never the key, exit 2, before the database is touched (docs/configuration.md,
"Environment variables"; issue #22)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.config import sqlite_file
from tests.harness import run_cli, write_config
from tests.sim_support import LI

BAD_KEYS = {  # the "sim key", and a key pasted with a tab, or with an accent
    "Zq9sim Xw7key": "contains a space (character 7 of 13)",
    "pp_Zq9\tXw7": "contains a tab (character 7 of 10)",
    "pp_Zqé9_123": "contains a non-ASCII character (character 6 of 11)",
}


@pytest.mark.parametrize("command", [["sync"], ["worker", "--once"]])
@pytest.mark.parametrize("key", list(BAD_KEYS))
def test_a_key_the_header_cannot_carry_is_one_line_and_exit_2_before_anything_is_created(
    tmp_path: Path, db_url: str, key: str, command: list[str]
) -> None:
    # Port 9: nothing listens there, and nothing must be asked anyway.
    config = write_config(tmp_path / "f.toml", db_url, "http://127.0.0.1:9/api/v1", [LI])
    done = run_cli(command, config=config, POSTPRESS_API_KEY=key)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: POSTPRESS_API_KEY: {BAD_KEYS[key]}; an API key is visible ASCII without spaces "
        "(copy it again from the postpress dashboard)"
    ]
    for part in key.split():  # not the key, nor any piece of it
        assert part not in done.stderr
    path = sqlite_file(db_url)
    if path is not None:
        assert not Path(path).exists()
    else:
        engine = sa.create_engine(db_url)
        try:
            assert sa.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
