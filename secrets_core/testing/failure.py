"""Backend contracts, part four: a store that is down raises a typed error. Mixed into
:class:`~secrets_core.testing.BackendContract`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

import pytest

from secrets_core.errors import SecretNotFoundError, SecretsError
from secrets_core.plugin._api import StorageBackend


class FailureContract:
    """A store that is down raises a :class:`~secrets_core.errors.SecretsError` subclass,
    never a client library's exception, and never "not found". Provide ``make_unavailable``:
    a callable that takes the ``backend`` under test and makes its store unreachable (stops
    the server, closes the port, replaces the directory or database by garbage); the default
    skips these tests. Set ``DOWN_WITHIN_SECONDS`` to also require that each operation gives
    up within that many seconds (a bound against hanging, not a speed test: set it well above
    the backend's own time budget)."""

    DOWN_WITHIN_SECONDS: ClassVar[float | None] = None

    @pytest.fixture
    def make_unavailable(self) -> Callable[[StorageBackend], None]:
        pytest.skip("provide a make_unavailable fixture to test the failure contract")

    @pytest.mark.parametrize("operation", ["read", "write", "delete", "list_names"])
    def test_a_store_that_is_down_raises_a_secrets_error(
        self,
        backend: StorageBackend,
        make_unavailable: Callable[[StorageBackend], None],
        operation: str,
    ) -> None:
        backend.write("kit_down", b"x")
        make_unavailable(backend)
        calls: dict[str, Callable[[], object]] = {
            "read": lambda: backend.read("kit_down"),
            "write": lambda: backend.write("kit_down", b"y"),
            "delete": lambda: backend.delete("kit_down"),
            "list_names": lambda: backend.list_names(""),
        }
        started = time.monotonic()
        try:
            calls[operation]()
        except SecretNotFoundError:
            pytest.fail(f"{operation} on a store that is down must not pretend 'not found'")
        except SecretsError:
            took = time.monotonic() - started
            limit = self.DOWN_WITHIN_SECONDS
            assert limit is None or took <= limit, (
                f"{operation} on a store that is down took {took:.1f} s to fail; it must give "
                f"up within {limit} s (bound the backend's timeouts and retries)"
            )
            return
        except Exception as exc:
            pytest.fail(
                f"{operation} raised {type(exc).__name__}; a store that is down must raise a "
                "secrets_core.errors type (e.g. BackendUnavailableError)"
            )
        pytest.fail(f"{operation} on a store that is down must raise, not succeed")
