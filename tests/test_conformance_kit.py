"""The conformance kit: the core's own sinks pass it, and it catches broken plugins."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from secrets_core.audit import JsonlSink, LoggingSink
from secrets_core.errors import ConfigError
from secrets_core.keys import EnvKeySource, KeyfileSource, PassphraseSource
from secrets_core.plugin import AuditSink, KdfSpec, PluginContext, get_registry
from secrets_core.testing import AuditSinkContract, KdfContract, KeySourceContract


class TestJsonlSinkContract(AuditSinkContract):
    @pytest.fixture
    def sink(self, tmp_path: Path) -> Iterator[AuditSink]:
        sink = JsonlSink({"path": str(tmp_path / "audit.jsonl")}, PluginContext(tmp_path, tmp_path))
        yield sink
        sink.close()

    @pytest.fixture
    def recorded(self, tmp_path: Path) -> Callable[[], str]:
        return lambda: (tmp_path / "audit.jsonl").read_text()


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class TestLoggingSinkContract(AuditSinkContract):
    @pytest.fixture
    def handler(self) -> Iterator[_ListHandler]:
        handler = _ListHandler()
        logger = logging.getLogger("kit.audit")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        yield handler
        logger.removeHandler(handler)

    @pytest.fixture
    def sink(self, tmp_path: Path, handler: _ListHandler) -> AuditSink:
        return LoggingSink(
            {"logger": "kit.audit", "level": "INFO"}, PluginContext(tmp_path, tmp_path)
        )

    @pytest.fixture
    def recorded(self, handler: _ListHandler) -> Callable[[], str]:
        return lambda: "\n".join(handler.lines)


class _Pbkdf2:
    """A minimal KDF, as a third party would write it, to run the KDF contract."""

    def __init__(self, params: Mapping[str, int]) -> None:
        iterations = int(params.get("iterations", 600_000))
        if not 600_000 <= iterations <= 10_000_000:
            raise ConfigError("iterations must be between 600000 and 10000000")
        self.params = {"iterations": iterations}

    def derive(self, passphrase: bytes, salt: bytes, length: int) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", passphrase, salt, self.params["iterations"], length)


@pytest.mark.slow  # KDFs at their OWASP floors: seconds each
class TestKdfContractOnAMinimalKdf(KdfContract):
    @pytest.fixture
    def kdf_spec(self) -> KdfSpec:
        return KdfSpec(name="test-pbkdf2", factory=_Pbkdf2)

    @pytest.fixture
    def fast_params(self) -> dict[str, int]:
        return {"iterations": 600_000}

    @pytest.fixture
    def weak_params(self) -> dict[str, int]:
        return {"iterations": 1000}

    @pytest.fixture
    def huge_params(self) -> dict[str, int]:
        return {"iterations": 2**40}


BROKEN_BACKEND = '''
import pytest
from secrets_core.plugin import BackendSpec, Capability
from secrets_core.errors import SecretNotFoundError
from secrets_core.testing import BackendContract

class Lossy:
    """Forgets value types, lists nothing, and raises KeyError instead of the typed error."""
    def __init__(self): self.data = {}
    def read(self, name): return self.data[name]
    def write(self, name, value):
        self.data[name] = value.encode() if isinstance(value, str) else value
    def delete(self, name): del self.data[name]
    def list_names(self, prefix=""): return []
    def close(self): pass

class TestLossy(BackendContract):
    @pytest.fixture
    def backend_spec(self):
        return BackendSpec(name="lossy", factory=lambda o, c: Lossy(),
                           capabilities=frozenset({Capability.LIST}))
'''


@pytest.mark.slow
def test_the_kit_fails_a_broken_backend_with_messages_that_explain(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(textwrap.dedent(BROKEN_BACKEND))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout
    assert "read must return str when that was written" in result.stdout
    assert "list_names('') must return every stored name" in result.stdout
    assert "FAILED test_broken.py::TestLossy::test_missing_name_raises_not_found" in result.stdout


PLUGIN_USER = """
pytest_plugins = ["secrets_core.testing"]

def test_home_is_isolated(secrets_home):
    import os
    import platformdirs
    assert str(platformdirs.user_data_path("secure-secrets")).startswith(str(secrets_home))
    assert not any(v.startswith("SECURE_SECRETS_") for v in os.environ)
"""


@pytest.mark.slow
def test_the_kit_is_a_pytest_plugin_enabled_with_one_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "test_user.py").write_text(PLUGIN_USER)
    monkeypatch.setenv("SECURE_SECRETS_DATA_DIR", "/should/be/cleared")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


class TestKeyfileSourceContract(KeySourceContract):
    CREATES_NEW_KEYS = False  # reuses an existing key file rather than overwrite a key

    @pytest.fixture
    def key_source(self, tmp_path: Path) -> KeyfileSource:
        return KeyfileSource({"path": str(tmp_path / "kek.key")}, PluginContext(tmp_path, tmp_path))


class TestEnvKeySourceContract(KeySourceContract):
    CREATES_NEW_KEYS = False

    @pytest.fixture
    def key_source(self, tmp_path: Path, monkeypatch) -> EnvKeySource:
        monkeypatch.setenv("KIT_KEK", base64.b64encode(os.urandom(32)).decode())
        return EnvKeySource({"variable": "KIT_KEK"}, PluginContext(tmp_path, tmp_path))


class TestPassphraseSourceContract(KeySourceContract):
    @pytest.fixture
    def key_source(self, tmp_path: Path, monkeypatch) -> PassphraseSource:
        monkeypatch.setenv("KIT_PASSPHRASE", "kit passphrase")

        def kdf(name, params):  # as the registry: an unknown name is PluginNotFoundError
            return get_registry().get(KdfSpec, name or "pbkdf2-sha256").make(params or {})

        context = PluginContext(tmp_path, tmp_path, kdf=kdf)
        return PassphraseSource({"variable": "KIT_PASSPHRASE", "prompt": False}, context)


# --- every contract fails its deliberately broken implementations -----------------------------

KIT_OVER_BROKEN = """
import pytest
from tests.helpers import kit_reference as ref
from secrets_core.testing import AuditSinkContract, BackendContract, KeySourceContract


def backend_class(cls):
    class Test(BackendContract):
        THREADS = 8
        DOWN_WITHIN_SECONDS = 1.0

        @pytest.fixture
        def backend_spec(self):
            return ref.spec(cls)

        @pytest.fixture
        def make_unavailable(self):
            return lambda backend: setattr(backend, "down", True)

    return Test


def key_source_class(cls):
    class Test(KeySourceContract):
        @pytest.fixture
        def key_source(self):
            return cls()

    return Test


def sink_class(cls):
    class Test(AuditSinkContract):
        @pytest.fixture
        def sink(self):
            return cls()

        @pytest.fixture
        def recorded(self, sink):
            return lambda: "\\n".join(sink.lines)

        @pytest.fixture
        def unreachable_sink(self):
            made = cls()
            made.reachable = False
            return made

    return Test


TestReference = backend_class(ref.Reference)
TestRefSharedFile = backend_class(ref.SharedFile)
TestRefKeySource = key_source_class(ref.RefKeySource)
TestRefSink = sink_class(ref.RefSink)
for broken in ref.BROKEN:
    globals()["TestBroken" + broken.__name__] = backend_class(broken)
for broken in ref.BROKEN_KEY_SOURCES:
    globals()["TestBroken" + broken.__name__] = key_source_class(broken)
for broken in ref.BROKEN_SINKS:
    globals()["TestBroken" + broken.__name__] = sink_class(broken)
"""


MULTI_PROCESS_TEST = "test_processes_sharing_one_store_lose_no_write"


@pytest.mark.parametrize(
    "selection",
    [
        pytest.param(f"not {MULTI_PROCESS_TEST}", id="in-process"),
        pytest.param(MULTI_PROCESS_TEST, id="multi-process", marks=pytest.mark.slow),
    ],
)
def test_every_contract_fails_its_deliberately_broken_implementations(
    tmp_path: Path, selection: str
) -> None:
    """The in-process contracts in one run, the multi-process one (it starts processes) in
    another; in each, the references pass and every broken variant fails its contract."""
    from tests.helpers import kit_reference as ref

    (tmp_path / "test_kit_over_broken.py").write_text(KIT_OVER_BROKEN)
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEp", "-p", "no:cacheprovider", "-p",
         "no:randomly", "--rootdir", str(tmp_path), "-k", selection,
         str(tmp_path / "test_kit_over_broken.py")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    outcomes: dict[str, dict[str, set[str]]] = {"PASSED": {}, "FAILED": {}, "ERROR": {}}
    for line in result.stdout.splitlines():
        outcome, _, where = line.partition(" ")
        if outcome in outcomes and "::" in where:
            cls, test = where.split("::")[1:3]
            outcomes[outcome].setdefault(cls, set()).add(test.split(" ")[0].split("[")[0])
    by_class = outcomes["FAILED"]
    references = {"TestReference", "TestRefSharedFile", "TestRefKeySource", "TestRefSink"}
    assert not references & (set(by_class) | set(outcomes["ERROR"])), (
        "the reference implementations must pass every contract:\n" + result.stdout[-3000:]
    )
    multi_process = selection == MULTI_PROCESS_TEST
    if multi_process:
        assert MULTI_PROCESS_TEST in outcomes["PASSED"].get("TestRefSharedFile", set()), (
            "the multi-process reference must run and pass:\n" + result.stdout[-3000:]
        )
    caught: dict[str, int] = {}
    everything = {**ref.BROKEN, **ref.BROKEN_KEY_SOURCES, **ref.BROKEN_SINKS}
    for broken, contract in everything.items():
        if (contract == MULTI_PROCESS_TEST) != multi_process:
            continue
        failures = by_class.get("TestBroken" + broken.__name__, set())
        assert contract in failures, f"{broken.__name__} must fail {contract}; failed: {failures}"
        caught[contract] = caught.get(contract, 0) + 1
    print("\n".join(f"{count:3d}  {contract}" for contract, count in sorted(caught.items())))


def test_the_split_kit_keeps_the_old_backend_module_path() -> None:
    """Third-party plugins imported from ``secrets_core.testing.backend`` before the contracts
    moved to single-job modules; those imports still give the same objects."""
    import secrets_core.testing as kit
    from secrets_core.testing import backend as old

    for name in (
        "BackendContract",
        "CasContract",
        "effective_capabilities",
        "FailureContract",
        "ConcurrencyContract",
        "SemanticsContract",
        "MultiProcessContract",
    ):
        assert getattr(old, name) is getattr(kit, name), name
    assert old.VALUES and old.EDGE_NAMES
