"""Contract tests for key-derivation functions."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from secrets_core.errors import ConfigError
from secrets_core.plugin._api import KdfSpec

SALT = bytes(range(16))


class KdfContract:
    """Subclass and provide fixtures ``kdf_spec`` (the :class:`KdfSpec`), ``fast_params``
    (valid parameters, as cheap as the floors allow), ``weak_params`` (below the floor) and
    ``huge_params`` (above the ceiling)."""

    def test_derivation_is_deterministic(
        self, kdf_spec: KdfSpec, fast_params: Mapping[str, int]
    ) -> None:
        kdf = kdf_spec.make(fast_params)
        first = kdf.derive(b"passphrase", SALT, 32)
        assert len(first) == 32, "derive must return exactly `length` bytes"
        assert kdf_spec.make(dict(kdf.params)).derive(b"passphrase", SALT, 32) == first, (
            "the stored params must reproduce the same key"
        )

    def test_salt_and_passphrase_change_the_key(
        self, kdf_spec: KdfSpec, fast_params: Mapping[str, int]
    ) -> None:
        kdf = kdf_spec.make(fast_params)
        base = kdf.derive(b"passphrase", SALT, 32)
        assert kdf.derive(b"passphrase", SALT[::-1], 32) != base, "the salt must change the key"
        assert kdf.derive(b"passphrasf", SALT, 32) != base, "the passphrase must change the key"

    def test_params_below_the_floor_are_refused(
        self, kdf_spec: KdfSpec, weak_params: Mapping[str, int]
    ) -> None:
        with pytest.raises(ConfigError):
            kdf_spec.make(weak_params)

    def test_params_above_the_ceiling_are_refused_before_deriving(
        self, kdf_spec: KdfSpec, huge_params: Mapping[str, int]
    ) -> None:
        with pytest.raises(ConfigError):  # must raise in the factory, before any derive()
            kdf_spec.make(huge_params)

    def test_defaults_are_accepted(self, kdf_spec: KdfSpec) -> None:
        kdf = kdf_spec.make({})
        assert dict(kdf.params), "default params must be recorded so they can be stored"
