"""Redirects (hardening issue, item 5): a 307 from a loopback Vault address used to send
``X-Vault-Token`` and the plaintext value over plain http to a non-loopback host (hvac follows
redirects; requests strips only ``Authorization``). A redirect is now followed only to an
address the ``vault_url`` policy accepts, and the token goes only to configured addresses.

Two loopback stand-ins, no network: one answers every request with a 307, the other records
the headers it receives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import BackendConfigurationError, SecretsError

TOKEN = "hvs.redirect-canary-31f0"


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(dict(self.headers))
            self.send_response(404)
            self.end_headers()

        do_PUT = do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server, url = _serve(Record)
    yield url, seen
    server.shutdown()


def _redirector(target: str) -> tuple[ThreadingHTTPServer, str]:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.end_headers()

        do_PUT = do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    return _serve(Redirect)


def _manager(url: str) -> SecureSecretsManager:
    return SecureSecretsManager(
        default_backend="vault",
        backends={"vault": {"vault_url": url, "vault_token": TOKEN, "kv_version": 2}},
    )


def test_a_redirect_to_plain_http_off_loopback_is_refused() -> None:
    # A reserved name (RFC 2606) that never resolves: refused before any lookup or connection.
    server, url = _redirector("http://vault.invalid:8200")
    try:
        with pytest.raises(BackendConfigurationError, match="redirected to vault.invalid"):
            _manager(url).store_secret("app/x", "value")
    finally:
        server.shutdown()


def test_the_token_is_not_sent_to_an_address_that_is_not_configured(recorder) -> None:
    target, seen = recorder
    server, url = _redirector(target)
    try:
        with pytest.raises(SecretsError):
            _manager(url).retrieve_secret("app/x")
    finally:
        server.shutdown()
    assert seen, "the redirect to a loopback address was followed"
    assert all("X-Vault-Token" not in headers for headers in seen)
    assert all(TOKEN not in str(headers) for headers in seen)


def test_a_redirect_loop_ends_in_a_typed_error_without_the_token() -> None:
    class Loop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(307)
            self.send_header("Location", self.path)  # relative: back to itself
            self.end_headers()

        do_PUT = do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server, url = _serve(Loop)
    try:
        with pytest.raises(SecretsError, match="TooManyRedirects") as raised:
            _manager(url).retrieve_secret("app/x")
    finally:
        server.shutdown()
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value)


def test_a_303_is_followed_with_a_get_and_no_body(recorder) -> None:
    """A 303 (See Other) turns a write into a GET of the target, as browsers and requests do,
    so the value is not sent to the redirect target."""
    target, seen = recorder

    class SeeOther(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(303)
            self.send_header("Location", target + self.path)
            self.end_headers()

        do_PUT = do_POST  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server, url = _serve(SeeOther)
    try:
        with pytest.raises(SecretsError):
            _manager(url).store_secret("app/x", "value-canary-5d1e")
    finally:
        server.shutdown()
    assert seen, "the 303 was followed"
    assert all("Content-Type" not in sent and "Content-Length" not in sent for sent in seen)


def test_proxy_and_ca_bundle_variables_are_ignored(recorder, monkeypatch) -> None:
    """Configuration is explicit: HTTP(S)_PROXY and REQUESTS_CA_BUNDLE do not steer requests
    (a proxy here would refuse the connection)."""
    target, seen = recorder
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    with pytest.raises(SecretsError):
        _manager(target).retrieve_secret("app/x")
    assert seen and seen[0].get("X-Vault-Token") == TOKEN
