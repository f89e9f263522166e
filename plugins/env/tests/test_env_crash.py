"""The env file's lock is released by the kernel when its holder is killed (SIGKILL): the
next writer gets it at once. (The keyring lock: tests/test_crash_suite.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager

pytestmark = pytest.mark.slow

HOLD_LOCK = """
import json, sys, time
from pathlib import Path
import secure_secrets_env.backend as env_backend
from secure_secrets import SecureSecretsManager
options, flags = json.loads(sys.argv[1]), Path(sys.argv[2])

def stall(*args, **kwargs):  # called with the lock held: mark it, then wait to be killed
    (flags / "holding").touch()
    time.sleep(120)

env_backend.write_env_file = stall
SecureSecretsManager(**options).store_secret("held", "v")
"""


def forget_process_environment() -> None:
    """A new process sees only the env file, not the variables this one set."""
    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]


def test_killing_the_env_file_lock_holder_frees_the_lock(
    tmp_path: Path, kill_once_flagged: Callable[[subprocess.Popen[bytes], Path], None]
) -> None:
    options = {"default_backend": "env", "backends": {"env": {"env_file": str(tmp_path / "e")}}}
    SecureSecretsManager(**options).store_secret("before", "v")
    forget_process_environment()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, json.dumps(options), str(tmp_path)])
    kill_once_flagged(holder, tmp_path / "holding")
    manager = SecureSecretsManager(**options)
    manager.store_secret("after", "w")  # would wait for the lock (and time out) if still held
    assert manager.retrieve_secret("before") == "v" and manager.retrieve_secret("after") == "w"
