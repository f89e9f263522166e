"""Child process for the rotation crash tests: rotates and SIGKILLs itself at a chosen phase.

The kill is real (SIGKILL, no cleanup runs); only the moment is chosen, by wrapping a step of
the rotation so the process dies right before or after it.

    python rotation_child.py PHASE [ARG [STORE]]
"""

from __future__ import annotations

import os
import signal
import sys

from secrets_core import keys as keyring
from secure_secrets import SecureSecretsManager


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_before(owner: type, method: str) -> None:
    def wrapper(*args: object, **kwargs: object) -> object:
        die()
        raise AssertionError("unreachable")

    setattr(owner, method, wrapper)


def die_after(owner: type, method: str) -> None:
    real = getattr(owner, method)

    def wrapper(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        die()
        return result

    setattr(owner, method, wrapper)


def main() -> None:
    phase = sys.argv[1]
    progress = None
    if phase == "after_journal":
        die_after(keyring.KeyManager, "begin_rotation")
    elif phase == "mid_reencrypt":
        kill_at = int(sys.argv[2])
        in_store = sys.argv[3] if len(sys.argv) > 3 else None  # any store by default

        def progress(backend: str, done: int, total: int) -> None:
            if done == kill_at and in_store in (None, backend):
                die()

    elif phase == "before_retire":
        die_before(keyring.KeyManager, "finish_rotation")
    elif phase == "after_retire":
        die_after(keyring.KeyManager, "finish_rotation")
    elif phase != "none":  # "none": run to completion (the parent may kill at random)
        raise SystemExit(f"unknown phase {phase}")
    keep = int(os.environ.get("ROTATE_KEEP", "0"))
    SecureSecretsManager().rotate_encryption_key(progress=progress, keep_old_keys=keep)


if __name__ == "__main__":
    main()
