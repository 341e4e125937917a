"""TLS verification is always on (docs/semantics.md#secrets: the key goes to the API only): an https
API whose certificate no authority signed is a `network_error`, not a page, and no setting turns the
check off."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from followersync.config import ConfigError, load_settings
from followersync.simulator import Simulator
from tests.faults.support import assert_stopped_after, error_detail, make_harness
from tests.sim_support import LI

EMPTY_PAGE = b'{"object": "UserFollowersList", "items": [], "cursor": null}'


class _ValidPage(http.server.BaseHTTPRequestHandler):
    """A valid (empty) last page: were the certificate not checked, the sync would succeed."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(EMPTY_PAGE)))
        self.end_headers()
        self.wfile.write(EMPTY_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def self_signed_url(tmp_path: Path) -> Iterator[str]:
    """An https API on 127.0.0.1 whose certificate, in tmp_path/cert.pem, signs itself."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ValidPage)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_self_signed_certificate_is_refused(sqlite_url: str, sim: Simulator, self_signed_url: str) -> None:
    h = make_harness(sqlite_url, sim, base_url=self_signed_url)
    try:
        [result] = h.sync()
        assert (result.status, result.error_type) == ("failed", "network_error")
        assert "CERTIFICATE_VERIFY_FAILED" in error_detail(h.runs(LI.name)[-1])["detail"]
        assert_stopped_after(h, sim, good_pages=0)
    finally:
        h.close()


def test_the_same_server_is_accepted_once_its_certificate_is_trusted(
    sqlite_url: str,
    sim: Simulator,
    self_signed_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The control: the refusal above is the certificate check, not a broken server. Trusting a
    # private authority is the supported way in (the standard SSL_CERT_FILE variable).
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    h = make_harness(sqlite_url, sim, base_url=self_signed_url)
    try:
        [result] = h.sync()
        assert (result.status, result.pages) == ("succeeded", 1)
    finally:
        h.close()


@pytest.mark.parametrize("key", ["verify", "verify_ssl", "tls_verify", "insecure", "ssl"])
def test_no_setting_turns_certificate_checks_off(tmp_path: Path, key: str) -> None:
    config = tmp_path / "followersync.toml"
    config.write_text(f"[api]\n{key} = false\n")
    with pytest.raises(ConfigError, match=rf"^api\.{key}: unknown key"):
        load_settings(config, env={})
