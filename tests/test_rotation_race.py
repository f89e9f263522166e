"""A write that sealed its value and has not stored it yet must not be missed by a rotation
in another process: the rotation waits for it (the keyring's lock, held shared while a value
is sealed and written). Real processes; the writer is paused between sealing and writing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager

pytestmark = pytest.mark.slow

HELPERS = Path(__file__).parent / "helpers"
PAUSED_WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import pause_after_seal
from secure_secrets import SecureSecretsManager
pause_after_seal.install(Path(sys.argv[1]))
SecureSecretsManager().store_secret("race/new", "written while rotating")
"""
ROTATE = """
import sys
from pathlib import Path
from secure_secrets import SecureSecretsManager
manager = SecureSecretsManager()
manager.initialize_keys()
(Path(sys.argv[1]) / "rotating").touch()
manager.rotate_encryption_key(keep_old_keys=0)
"""


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize("backend", ["file", "env"])
def test_a_rotation_waits_for_a_value_sealed_but_not_yet_written(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "env":
        monkeypatch.setenv("SECURE_SECRETS_BACKEND", "env")
        config = tmp_path / "config.toml"
        config.write_text(f'[backends.env]\nenv_file = "{tmp_path / "secrets.env"}"\n')
        monkeypatch.setenv("SECURE_SECRETS_CONFIG", str(config))
    manager = SecureSecretsManager()
    manager.store_secret("race/old", "stored before")
    old_key = manager.initialize_keys()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRET_")}
    writer = subprocess.Popen(
        [sys.executable, "-c", PAUSED_WRITER, str(tmp_path), str(HELPERS)], env=env
    )
    wait_for(tmp_path / "sealed", writer)  # sealed under the old key, not yet written

    rotator = subprocess.Popen([sys.executable, "-c", ROTATE, str(tmp_path)], env=env)
    wait_for(tmp_path / "rotating", rotator)
    time.sleep(1)
    assert rotator.poll() is None, "the rotation did not wait for the write in flight"
    (tmp_path / "go").touch()
    assert writer.wait(timeout=60) == 0
    assert rotator.wait(timeout=60) == 0

    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]  # read what is stored, as a new process would
    fresh = SecureSecretsManager()
    assert old_key not in fresh.key_ids(), "the old key was retired"
    assert fresh.retrieve_secret("race/new") == "written while rotating"
    assert fresh.retrieve_secret("race/old") == "stored before"
