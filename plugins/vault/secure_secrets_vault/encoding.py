"""How values are laid out in a Vault KV secret, so that other Vault clients can read them.

* ``str``   -> ``{"value": "<the text>"}``
* ``bytes`` -> ``{"value": "<standard base64>", "encoding": "base64"}``

A secret written by another client with other keys (``bao kv put secret/db user=.. pass=..``)
reads back as its JSON text (keys sorted), so it is still usable.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from secrets_core.errors import IntegrityError, InvalidSecretValueError

VALUE_KEY = "value"
ENCODING_KEY = "encoding"
BASE64 = "base64"


class Payload:
    """The KV data of one write. Its repr is masked, so a traceback's locals do not show it."""

    __slots__ = ("data",)

    def __init__(self, value: str | bytes) -> None:
        if isinstance(value, str):
            self.data: dict[str, str] = {VALUE_KEY: value}
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self.data = {VALUE_KEY: base64.b64encode(value).decode("ascii"), ENCODING_KEY: BASE64}
        else:
            raise InvalidSecretValueError(
                f"secret value must be str or bytes, not {type(value).__name__}"
            )

    def __repr__(self) -> str:
        return "Payload('**********')"

    def kv2_body(self, cas: int | None) -> dict[str, object]:
        """The JSON body of a KV v2 write (``options.cas`` for check-and-set)."""
        if cas is None:
            return {"data": self.data}
        return {"data": self.data, "options": {"cas": cas}}


def decode(data: Mapping[str, Any] | None, name: str) -> str | bytes:
    """The value stored in a KV secret's ``data``."""
    if not isinstance(data, Mapping):
        raise IntegrityError(f"vault: secret '{name}' has no data")
    keys = set(data)
    value = data.get(VALUE_KEY)
    if keys == {VALUE_KEY} and isinstance(value, str):
        return value
    if keys == {VALUE_KEY, ENCODING_KEY} and isinstance(value, str):
        if data[ENCODING_KEY] != BASE64:
            raise IntegrityError(
                f"vault: secret '{name}' has an unknown encoding (expected '{BASE64}')"
            )
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise IntegrityError(f"vault: secret '{name}' is not valid base64") from None
    return json.dumps(dict(data), sort_keys=True, ensure_ascii=False)
