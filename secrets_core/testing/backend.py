"""Contract tests for storage backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from secrets_core.config import resolve_options
from secrets_core.descriptors import BackendSpec, Capability, PluginContext, StorageBackend
from secrets_core.errors import SecretNotFoundError
from secrets_core.names import MAX_NAME_LENGTH

VALUES: dict[str, bytes | str] = {
    "unicode": "pässwörd ✓ 密码 🔑",
    "empty_text": "",
    "empty_bytes": b"",
    "binary": bytes(range(256)),
    "one_mib": os.urandom(1024 * 1024),
}
EDGE_NAMES = [
    "a",
    "x" * MAX_NAME_LENGTH,
    "billing/stripe/api_key",
    "dots.and-dashes_and_underscores",
    "_leading_underscore",
    "CaseSensitive",
    "casesensitive",
]


class BackendContract:
    """Subclass and provide a ``backend_spec`` fixture returning the :class:`BackendSpec`.

    Override ``backend_options`` to pass options (the default is the spec's defaults), or
    ``backend`` itself to build the backend another way. Each test gets a fresh backend
    rooted in pytest's ``tmp_path``.
    """

    @pytest.fixture
    def backend_options(self) -> dict[str, object]:
        return {}

    @pytest.fixture
    def backend(
        self, backend_spec: BackendSpec, backend_options: dict[str, object], tmp_path: Path
    ) -> Iterator[StorageBackend]:
        options = resolve_options(backend_spec.options, backend_options, "[kit]")
        context = PluginContext(data_dir=tmp_path / "data", log_dir=tmp_path / "log")
        made = backend_spec.factory(options, context)
        yield made
        made.close()

    def test_implements_the_interface(self, backend: StorageBackend) -> None:
        assert isinstance(backend, StorageBackend), (
            "the factory must return an object with read, write, delete, list_names and close"
        )

    @pytest.mark.parametrize("kind", sorted(VALUES))
    def test_value_round_trips_with_its_type(self, backend: StorageBackend, kind: str) -> None:
        value = VALUES[kind]
        backend.write("kit_value", value)
        got = backend.read("kit_value")
        assert type(got) is type(value), (
            f"read must return {type(value).__name__} when that was written"
        )
        assert got == value, f"a {kind} value must read back byte-identical"

    def test_overwrite_replaces_the_value(self, backend: StorageBackend) -> None:
        backend.write("kit_overwrite", b"first")
        backend.write("kit_overwrite", b"second")
        assert backend.read("kit_overwrite") == b"second", "a second write must replace the first"

    def test_missing_name_raises_not_found(self, backend: StorageBackend) -> None:
        with pytest.raises(SecretNotFoundError):
            backend.read("kit_never_written")

    def test_delete_removes_and_missing_delete_raises(self, backend: StorageBackend) -> None:
        backend.write("kit_delete", b"x")
        backend.delete("kit_delete")
        with pytest.raises(SecretNotFoundError, match="kit_delete"):
            backend.read("kit_delete")
        with pytest.raises(SecretNotFoundError):
            backend.delete("kit_delete")

    @pytest.mark.parametrize("name", EDGE_NAMES)
    def test_name_edge_cases_are_distinct(self, backend: StorageBackend, name: str) -> None:
        backend.write(name, name.encode())
        backend.write("kit_other", b"other")
        assert backend.read(name) == name.encode(), "each valid name must map to its own entry"

    def test_names_differing_only_in_case_are_distinct(self, backend: StorageBackend) -> None:
        backend.write("CaseSensitive", b"upper")
        backend.write("casesensitive", b"lower")
        assert backend.read("CaseSensitive") == b"upper", "names are case-sensitive"
        assert backend.read("casesensitive") == b"lower", "names are case-sensitive"

    def test_list_honours_the_declared_capability(
        self, backend: StorageBackend, backend_spec: BackendSpec
    ) -> None:
        if Capability.LIST not in backend_spec.capabilities:
            pytest.skip("backend does not declare Capability.LIST")
        for name in ("app/a", "app/b", "other"):
            backend.write(name, b"v")
        assert sorted(backend.list_names("")) == ["app/a", "app/b", "other"], (
            "list_names('') must return every stored name"
        )
        assert sorted(backend.list_names("app/")) == ["app/a", "app/b"], (
            "list_names(prefix) must return only names starting with prefix"
        )
        backend.delete("app/a")
        assert "app/a" not in backend.list_names(""), "deleted names must not be listed"
