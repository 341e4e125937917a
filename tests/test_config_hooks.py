"""The [[notify]] tables: read with their defaults, validated one line per problem, their secrets
read from the environment when delivering, never shown."""

from __future__ import annotations

import pytest

from followersync.config import (
    ConfigError,
    Settings,
)
from followersync.notify.deliver import hook_secret, require_secrets
from followersync.notify.record import wants
from tests.config_support import (
    SOURCE,
    config_error,
    load_text,
)

# --- [[notify]] -------------------------------------------------------------------------------------

HOOK = '[[notify]]\nurl = "https://hooks.example.com/services/T0/B0"\n'

pytestmark = pytest.mark.usefixtures("own_working_directory")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[notify]]\nname = 'x'\n", "notify[1]: give either url or command, not neither"),
        (HOOK + 'command = ["/bin/true"]\n', "notify[1]: give either url or command, not both"),
        (HOOK + 'events = ["unfollow", "unfolow"]\n', 'notify[1].events: unknown event "unfolow" (expected '),
        (HOOK + "events = []\n", "notify[1].events: must be a non-empty array of events"),
        (
            SOURCE + HOOK + 'sources = ["acme", "acne"]\n',
            'notify[1].sources: no source named "acne" (configured ',
        ),
        (
            HOOK + 'sources = ["acme"]\n',
            'notify[1].sources: no source named "acme" (configured sources: none',
        ),
        (
            '[[notify]]\nurl = "ftp://files.example.com/x"\n',
            "notify[1].url: must be an http:// or https:// URL",
        ),
        ('[[notify]]\nurl = "hooks.example.com/x"\n', "notify[1].url: must be an http:// or https:// URL"),
        ('[[notify]]\ncommand = "/bin/notify --json"\n', "notify[1].command: must be an array of strings"),
        ("[[notify]]\ncommand = []\n", "notify[1].command: must be an array of strings"),
        (HOOK + 'secret_env = "s3cr3t value"\n', "notify[1].secret_env: must name an environment variable"),
        (HOOK + 'timeout = "0s"\n', "notify[1].timeout: must be a duration > 0"),
        (HOOK + 'backoff = "soon"\n', "notify[1].backoff: must be a duration"),
        (HOOK + "retries = 3\n", "notify[1].retries: unknown key"),
        (
            HOOK + 'name = "a"\n' + HOOK + 'name = "a"\n',
            'notify: duplicate hook name "a" (notify[1] and notify[2])',
        ),
        (
            "[notify]\nurl = 'https://x.example'\n",
            "notify: must be an array of tables ([[notify]]), got a table",
        ),
    ],
)
def test_bad_hook_is_one_line_naming_the_key(text: str, expected: str) -> None:
    message = config_error(text)
    assert message.startswith(expected), message
    assert message.endswith("(in given.toml)")
    assert "\n" not in message


def test_hooks_are_read_with_their_defaults_and_names() -> None:
    settings = load_text(
        SOURCE + HOOK + '[[notify]]\nname = "crm"\ncommand = ["/usr/bin/crm", "--json"]\n'
        'events = ["unfollow"]\nsources = ["acme"]\nsecret_env = "CRM_SECRET"\ntimeout = "2s"\n'
        'backoff = "1m"\n'
    )
    first, crm = settings.notify
    assert (first.name, first.command, first.events, first.sources) == (
        "notify-1", None, ("unfollow", "follow", "profile_change", "withheld", "attention"), None,
    )  # fmt: skip
    assert (first.timeout, first.backoff, first.secret_env) == (10.0, 30.0, None)
    assert (crm.name, crm.command, crm.events, crm.sources) == (
        "crm",
        ("/usr/bin/crm", "--json"),
        ("unfollow",),
        ("acme",),
    )
    assert (crm.timeout, crm.backoff, crm.secret_env, crm.url) == (2.0, 60.0, "CRM_SECRET", None)
    assert wants(crm, "unfollow", "acme") and not wants(crm, "follow", "acme")
    assert not wants(crm, "unfollow", "b")
    assert wants(first, "attention", "anything")


def test_a_hook_url_never_shows_its_credentials_or_path() -> None:
    url = "https://alice:pa55word@hooks.example.com:8443/services/T0/B0/t0ken?key=k3y"
    hook = load_text(f'[[notify]]\nurl = "{url}"\n').notify[0]
    assert hook.url == url
    assert hook.target == "https://hooks.example.com:8443/..."
    for text in (repr(hook), str(hook), hook.target):
        for secret in ("alice", "pa55word", "t0ken", "k3y"):
            assert secret not in text
    message = config_error('[[notify]]\nurl = "ftp://alice:pa55word@hooks.example.com/x"\n')
    assert "pa55word" not in message and "alice" not in message


def test_an_unset_secret_env_is_a_config_error_when_delivering(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_text(HOOK + 'name = "slack"\nsecret_env = "FS_TEST_HOOK_SECRET"\n')
    monkeypatch.delenv("FS_TEST_HOOK_SECRET", raising=False)
    with pytest.raises(
        ConfigError,
        match=r"^notify\[1\]\.secret_env: the environment variable "
        r"FS_TEST_HOOK_SECRET is not set \(hook \"slack\" signs its payloads with it\)$",
    ):
        require_secrets(settings.notify)
    monkeypatch.setenv("FS_TEST_HOOK_SECRET", "s3cret")
    require_secrets(settings.notify)
    assert hook_secret(settings.notify[0]) == b"s3cret"
    assert "s3cret" not in repr(settings)


def test_select_hooks() -> None:
    settings = load_text(HOOK + 'name = "a"\n' + HOOK + 'name = "b"\n')
    assert [h.name for h in settings.select_hooks(None)] == ["a", "b"]
    assert [h.name for h in settings.select_hooks("b")] == ["b"]
    with pytest.raises(ConfigError, match=r'^no hook named "c" \(configured hooks: a, b\)$'):
        settings.select_hooks("c")
    with pytest.raises(ConfigError, match=r"^notify: no hooks configured"):
        Settings().select_hooks(None)
