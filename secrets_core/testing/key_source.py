"""Contract tests for key sources."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from secrets_core.errors import ConfigError, IntegrityError, KeyNotAvailableError
from secrets_core.plugin._api import KeySource

LENGTH = 32


class KeySourceContract:
    """Subclass and provide a ``key_source`` fixture: a constructed, ready-to-use source
    (e.g. with its variable set or its keyring backend configured).

    Set ``CREATES_NEW_KEYS = False`` for a source that hands out a key it is given (an
    environment variable) rather than making a new one on each ``create_kek``."""

    CREATES_NEW_KEYS = True

    def test_implements_the_interface(self, key_source: KeySource) -> None:
        assert isinstance(key_source, KeySource), "a key source needs create_kek and load_kek"

    def test_create_then_load_gives_the_same_key(self, key_source: KeySource) -> None:
        kek, params = key_source.create_kek(LENGTH)
        assert isinstance(kek, bytes) and len(kek) == LENGTH, "create_kek returns `length` bytes"
        json.dumps(params)  # the params are stored in keyring.json: they must be JSON
        assert key_source.load_kek(params, LENGTH) == kek, "load_kek(params) returns that key"

    def test_params_and_repr_do_not_hold_the_key(self, key_source: KeySource) -> None:
        kek, params = key_source.create_kek(LENGTH)
        stored = json.dumps(params)
        for form in (kek.hex(), repr(kek)):
            assert form not in stored, "params are public: they must not contain the key"
            assert form not in repr(key_source), "repr must not reveal the key"
        assert base64.b64encode(kek).decode() not in stored + repr(key_source)

    def test_load_is_repeatable(self, key_source: KeySource) -> None:
        kek, params = key_source.create_kek(LENGTH)
        assert key_source.load_kek(params, LENGTH) == key_source.load_kek(params, LENGTH)

    def test_two_creations_give_different_keys(self, key_source: KeySource) -> None:
        if not self.CREATES_NEW_KEYS:
            pytest.skip("CREATES_NEW_KEYS = False: this source hands out a given key")
        first, _ = key_source.create_kek(LENGTH)
        second, _ = key_source.create_kek(LENGTH)
        assert first != second, "each create_kek must make a new random key"

    def test_corrupt_or_foreign_params_raise_or_give_the_same_key(
        self, key_source: KeySource
    ) -> None:
        """Stored params are untrusted input: a corrupted or foreign value raises
        IntegrityError or KeyNotAvailableError (ConfigError when it names a KDF that is not
        installed or parameters outside its floors), with no key material in the message,
        or is not used at all (the same key comes back); never another exception."""
        kek, params = key_source.create_kek(LENGTH)
        corrupted: list[dict[str, Any]] = [{"kit": "foreign"}, {**params, "kit": "foreign"}]
        for key in params:
            garbage: object
            for garbage in ("\x00not base64 $", 12345, None, {"nested": []}):
                corrupted.append({**params, key: garbage})
            corrupted.append({k: v for k, v in params.items() if k != key})
        for bad in corrupted:
            try:
                got = key_source.load_kek(bad, LENGTH)
            except (IntegrityError, KeyNotAvailableError, ConfigError) as exc:
                text = str(exc) + repr(exc)
                for form in (kek.hex(), base64.b64encode(kek).decode(), repr(kek)):
                    assert form not in text, "an error message must not contain the key"
                continue
            except Exception as exc:
                pytest.fail(
                    f"load_kek({bad!r}) raised {type(exc).__name__}; corrupt params must raise "
                    "IntegrityError or KeyNotAvailableError"
                )
            assert got == kek, f"load_kek({bad!r}) silently returned another key"
