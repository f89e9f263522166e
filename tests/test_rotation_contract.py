"""The kit's RotationContract fails a backend that skips soft-deleted secrets when rotating."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SKIPS_DELETED = '''
import pytest
from secrets_core.errors import SecretNotFoundError
from secrets_core.plugin import BackendSpec, get_registry
from secrets_core.testing import RotationContract

class SkipsDeleted:
    """The file backend, but rewrite_versions looks names up among the live ones only."""
    def __init__(self, inner): self.inner = inner
    def __getattr__(self, attribute): return getattr(self.inner, attribute)
    def rewrite_versions(self, name, transform):
        if name in self.inner.list_deleted(""):
            raise SecretNotFoundError(f"secret '{name}' not found")
        return self.inner.rewrite_versions(name, transform)

class TestSkipsDeleted(RotationContract):
    @pytest.fixture
    def backend_spec(self):
        file_spec = get_registry().get(BackendSpec, "file")
        return file_spec._replace(
            name="skipsdeleted", factory=lambda o, c: SkipsDeleted(file_spec.make(o, c))
        )
'''


@pytest.mark.slow
def test_the_kit_fails_a_backend_that_skips_soft_deleted_secrets(tmp_path: Path) -> None:
    (tmp_path / "test_skips.py").write_text(textwrap.dedent(SKIPS_DELETED))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout
    assert "soft-deleted secrets" in result.stdout and "included" in result.stdout
    assert "FAILED test_skips.py::TestSkipsDeleted::test_a_soft_deleted_secret_is_rotated" in (
        result.stdout
    )
