"""Child-process helper for the rotation race tests: make the next ``envelope.seal`` touch
``<flags>/sealed`` and wait (at most 60 s) for ``<flags>/go`` before returning, so a writer
stops between sealing a value and writing it while the test starts a rotation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from secrets_core.keys import envelope


def install(flags: Path) -> None:
    real_seal = envelope.seal

    def seal(*args: Any, **kwargs: Any) -> bytes:
        token = real_seal(*args, **kwargs)
        (flags / "sealed").touch()
        deadline = time.monotonic() + 60
        while not (flags / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return token

    envelope.seal = seal  # type: ignore[assignment]
