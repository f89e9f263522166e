"""Redacted logs (secrets_core.redaction): every value retrieved in this process is masked
in every record a filtered handler emits, and the registry never holds the values."""

from __future__ import annotations

import gc
import io
import logging
import secrets
from collections.abc import Iterator

import pytest

from secrets_core import redaction
from secure_secrets import SecureSecretsManager, redact_logs, resolve_references, stop_redacting

CANARY = "canary-log-4b8e-do-not-print"


@pytest.fixture(autouse=True)
def forget() -> Iterator[None]:
    yield
    stop_redacting()


def reachable_text(root: object) -> list[str | bytes]:
    """Every str and bytes object reachable from ``root``'s attributes through containers."""
    found: list[str | bytes] = []
    seen: set[int] = set()
    stack = list(vars(root).values())
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            found.append(obj)
        elif isinstance(obj, (dict, set, frozenset, tuple, list)):
            stack.extend(gc.get_referents(obj))
    return found


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A handler on the root logger writing to a string, removed afterwards."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        stop_redacting()


def test_retrieved_values_are_masked_in_message_args_exceptions_and_stacks(
    stream: io.StringIO,
) -> None:
    redact_logs()
    manager = SecureSecretsManager()
    manager.store_secret("db", CANARY)
    manager.store_secret("pem", "-----BEGIN KEY-----\nline-one-abcdef\nline-two-ghijkl\n")
    manager.store_secret("raw", CANARY.encode() + b"-bytes")
    value = manager.retrieve_secret("db")
    pem = manager.retrieve_secret("pem")
    raw = manager.retrieve_secret("raw")
    log = logging.getLogger("app.child")  # propagates to the root handler
    log.info("connecting with %s and %r", value, {"password": value})
    log.info(f"inline {value}{value} and pem {pem!r} and raw {raw!r}")
    log.warning("a line of the key: line-two-ghijkl; short words stay: db, pem")
    try:
        raise RuntimeError(f"failed with {value}")
    except RuntimeError:
        log.exception("boom")
    log.info("where", stack_info=True, extra={"unrelated": value})
    text = stream.getvalue()
    assert CANARY not in text and "line-two-ghijkl" not in text
    assert "connecting with ***** and {'password': '*****'}" in text
    assert "inline **********" in text
    assert "short words stay: db, pem" in text and "RuntimeError: failed with *****" in text


def test_values_are_masked_wherever_they_sit_and_overlaps_are_covered() -> None:
    redact_logs(logging.NullHandler())
    values = [secrets.token_urlsafe(12) for _ in range(100)]
    while values[99][0] == values[42][-1]:  # else values[42] would stand whole in the text
        values[99] = secrets.token_urlsafe(12)
    redact_logs(logging.NullHandler(), values=values)
    for shift in range(9):  # every alignment against the sampled positions
        text = "x" * shift + values[7] + "y" + values[42][:-1] + values[99]
        masked = redaction.mask(text)
        assert masked == "x" * shift + "*****" + "y" + values[42][:-1] + "*****"
    assert redaction.mask("abcdefg" + "abc") == "abcdefgabc"  # nothing known, nothing changed
    redact_logs(logging.NullHandler(), values=["abcdefgh", "efghijkl", "short"])
    assert redaction.mask("__abcdefghijkl__") == "__**********__"  # overlapping values
    assert redaction.mask("a short word") == "a short word"  # under MIN_LENGTH: kept


def test_nothing_is_remembered_until_installed_and_the_registry_holds_no_value() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db", CANARY)
    manager.retrieve_secret("db")
    assert redaction.current() is None
    assert redaction.mask(CANARY) == CANARY
    redact_logs(logging.NullHandler())
    resolve_references({"DB": "ss:db"}, manager)  # references go through the manager too
    assert redaction.mask(f"[{CANARY}]") == "[*****]"
    registry = redaction.current()
    assert registry is not None
    held = reachable_text(registry)
    assert len(held) == 2  # the digest key and the one digest of the one value
    fragments = [CANARY[i : i + 4].encode() for i in range(len(CANARY) - 3)]
    assert not any(f in t for t in held if isinstance(t, bytes) for f in fragments)
    # The gram index holds four 4-byte grams: at most the value's first 7 bytes, as ints.
    assert len(registry.grams) == 4 and all(isinstance(g, int) for g in registry.grams)
    stop_redacting()
    assert redaction.current() is None and redaction.mask(CANARY) == CANARY
