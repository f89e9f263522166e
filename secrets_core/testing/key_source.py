"""Contract tests for key sources."""

from __future__ import annotations

import base64
import json

from secrets_core.plugin._api import KeySource

LENGTH = 32


class KeySourceContract:
    """Subclass and provide a ``key_source`` fixture: a constructed, ready-to-use source
    (e.g. with its variable set or its keyring backend configured)."""

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
