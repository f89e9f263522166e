"""One hook: register a backend named ``memory`` that keeps values in a dict.

Values live only as long as the process, which makes this useful in tests and as a start:
replace ``MemoryBackend`` with your storage and keep the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secrets_core import hookimpl
from secrets_core.errors import SecretNotFoundError
from secrets_core.plugin import BackendSpec, Capability, PluginContext


class MemoryBackend:
    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self._values: dict[str, bytes | str] = {}

    def read(self, name: str) -> bytes | str:
        try:
            return self._values[name]
        except KeyError:
            raise SecretNotFoundError(f"secret '{name}' not found in the memory backend") from None

    def write(self, name: str, value: bytes | str) -> None:
        self._values[name] = value

    def delete(self, name: str) -> None:
        if self._values.pop(name, None) is None:
            raise SecretNotFoundError(f"secret '{name}' not found in the memory backend")

    def list_names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self._values if n.startswith(prefix))

    def close(self) -> None:
        self._values.clear()


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="memory",
            factory=MemoryBackend,  # or a "package.module:attr" string
            capabilities=frozenset({Capability.LIST}),
            description="process-local dict (template plugin; values vanish on exit)",
        )
    ]
