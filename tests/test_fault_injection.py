"""Faults injected at random into many operations, rotation included, checked against a model.

* A wrapper backend (``faulty``, registered through a test ``PluginRegistry`` like any
  plugin) wraps the real ``file`` backend and makes a share of its calls fail, with the
  typed errors a well-behaved backend raises or with a plugin's own ``OSError`` or
  ``ConnectionError`` (which the manager must type): before the call (nothing happened) or
  after it (it happened, but the caller hears of a failure, as when a reply is lost).
* The operating system fails a share of ``write``/``fsync``/``replace`` calls with EIO or
  ENOSPC under the real file backend, keyring and audit log (simulated by patching ``os``:
  a disk cannot fail on demand).
* A store directory that really is read-only (chmod; as root, which chmod does not stop,
  the immutable attribute).

Every failure must be a typed ``SecretsError``; nothing stored may be lost or corrupted (a
model tracks what each secret may hold); an interrupted rotation completes on a rerun.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from secrets_core import builtin, hookimpl
from secrets_core.errors import (
    BackendUnavailableError,
    LockTimeoutError,
    SecretNotFoundError,
    SecretsError,
)
from secrets_core.keys import envelope
from secrets_core.plugin import BackendSpec, PluginContext, PluginRegistry, get_registry
from secure_secrets import SecureSecretsManager

SEED = int(os.environ.get("FAULT_SEED", "4242"))
OPERATIONS = int(os.environ.get("FAULT_OPERATIONS", "700"))
NAMES = ["db/password", "api/key", "svc/a", "svc/b/c", "token", "x.y-z"]
MISSING = object()


class InjectedFault(BackendUnavailableError):
    """Marks our own faults, so the test can tell them from real failures."""


class FaultyBackend:
    """Delegates to a real backend; each call fails with probability ``rate``, half the
    time before the call and half the time after it completed."""

    def __init__(self, inner: Any, rng: random.Random, rate: float) -> None:
        self.inner, self.rng, self.rate = inner, rng, rate
        self.enabled = True
        self.injected: dict[str, int] = {"before": 0, "after": 0}

    def _maybe_fail(self, when: str, method: str) -> None:
        if self.enabled and self.rng.random() < self.rate / 2:
            self.injected[when] += 1
            kind = self.rng.choice([InjectedFault, LockTimeoutError, OSError, ConnectionError])
            if kind is LockTimeoutError:
                raise LockTimeoutError(f"injected: {method} timed out waiting for a lock")
            if kind is OSError:  # a plugin's own error: the manager must type it
                raise OSError(errno.EIO, f"injected: {method} failed {when} the call")
            if kind is ConnectionError:
                raise ConnectionError(f"injected: {method} lost its connection {when} the call")
            raise InjectedFault(f"injected: {method} failed {when} the call")

    def __getattr__(self, attribute: str) -> Any:
        real = getattr(self.inner, attribute)
        if not callable(real) or attribute == "close":
            return real

        def call(*args: object, **kwargs: object) -> object:
            self._maybe_fail("before", attribute)
            result = real(*args, **kwargs)
            self._maybe_fail("after", attribute)
            return result

        return call


class FaultyPlugin:
    """Registers ``faulty``: the file backend's spec, its factory wrapped."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng, self.rate = rng, rate
        self.instances: list[FaultyBackend] = []

    @hookimpl
    def secrets_register_backends(self) -> list[BackendSpec]:
        file_spec = get_registry().lookup("backend", "file")

        def factory(options: dict[str, Any], context: PluginContext) -> FaultyBackend:
            backend = FaultyBackend(file_spec.make(options, context), self.rng, self.rate)
            self.instances.append(backend)
            return backend

        return [
            BackendSpec(
                name="faulty",
                factory=factory,
                capabilities=file_spec.capabilities,
                options=file_spec.options,
            )
        ]


class Model:
    """For each name, the set of values it may hold (a fault after a change leaves both the
    old and the new possible, until a read tells which)."""

    def __init__(self) -> None:
        self.possible: dict[str, set[object]] = {name: {MISSING} for name in NAMES}

    def changed(self, name: str, new: object, certain: bool) -> None:
        self.possible[name] = {new} if certain else self.possible[name] | {new}

    def observed(self, name: str, value: object) -> None:
        assert value in self.possible[name], f"{name}: {value!r} not in {self.possible[name]}"
        self.possible[name] = {value}


def check_typed(exc: BaseException) -> None:
    assert isinstance(exc, SecretsError), f"an untyped error escaped: {exc!r}"


def value_of(i: int) -> str | bytes:
    return f"value-{i}-é" if i % 3 else f"bytes-{i}".encode() + bytes([i % 256])


def drive(manager: SecureSecretsManager, model: Model, rng: random.Random, count: int) -> dict:
    """Random store/read/delete/list/rotate; each outcome folded into the model."""
    stats = {"ok": 0, "failed": 0, "rotations": 0, "rotations_failed": 0}
    for i in range(count):
        name = rng.choice(NAMES)
        op = rng.choices(["store", "read", "delete", "list", "rotate"], [5, 5, 2, 1, 1])[0]
        try:
            if op == "store":
                value = value_of(i)
                try:
                    manager.store_secret(name, value)
                except SecretsError:
                    model.changed(name, value, certain=False)
                    raise
                model.changed(name, value, certain=True)
            elif op == "read":
                try:
                    model.observed(name, manager.retrieve_secret(name))
                except SecretNotFoundError:
                    model.observed(name, MISSING)
            elif op == "delete":
                try:
                    manager.delete_secret(name)
                except SecretNotFoundError:
                    model.observed(name, MISSING)
                except SecretsError:
                    model.changed(name, MISSING, certain=False)
                    raise
                else:
                    assert MISSING not in model.possible[name] or len(model.possible[name]) > 1
                    model.changed(name, MISSING, certain=True)
            elif op == "list":
                listed = set(manager.list_secrets())
                for each in NAMES:
                    if MISSING not in model.possible[each]:
                        assert each in listed, f"{each} is stored but not listed"
                    elif model.possible[each] == {MISSING}:
                        assert each not in listed, f"{each} is listed but was deleted"
            else:
                stats["rotations"] += 1
                manager.rotate_encryption_key(keep_old_keys=rng.choice([0, 1]))
            stats["ok"] += 1
        except SecretsError as exc:
            check_typed(exc)
            stats["failed"] += 1
            stats["rotations_failed"] += op == "rotate"
        except Exception as exc:  # anything untyped fails the test, with its type
            check_typed(exc)
    return stats


def settle(manager: SecureSecretsManager, model: Model) -> None:
    """With faults off: a rotation completes (resuming an interrupted one) and every secret
    holds one of the values the model allows."""
    event = manager.rotate_encryption_key(keep_old_keys=0)
    assert manager.rotation_pending() is None
    assert event.details["backends"][manager.default_backend]["failed"] == 0
    primary = manager.key_ids()
    assert len(primary) == 1
    for name in NAMES:
        try:
            model.observed(name, manager.retrieve_secret(name))
        except SecretNotFoundError:
            model.observed(name, MISSING)
        else:
            token = manager.read_stored(name)
            assert envelope.key_id_of(token, name) == primary[0], f"{name} not re-encrypted"
    assert manager.list_secrets() == sorted(n for n in NAMES if model.possible[n] != {MISSING})
    assert manager.verify_audit_log().ok


@pytest.fixture
def faulty_manager() -> Iterator[tuple[SecureSecretsManager, FaultyPlugin]]:
    plugin = FaultyPlugin(random.Random(SEED), rate=0.2)
    registry = PluginRegistry(internal=[("core", builtin), ("faulty-test", plugin)])
    assert "faulty" in registry.names("backend")
    manager = SecureSecretsManager(default_backend="faulty", registry=registry)
    yield manager, plugin
    manager.close()


@pytest.mark.slow
def test_random_backend_faults_lose_nothing_and_rotation_completes(faulty_manager) -> None:  # type: ignore[no-untyped-def]
    manager, plugin = faulty_manager
    model = Model()
    stats = drive(manager, model, random.Random(SEED + 1), OPERATIONS)
    (backend,) = plugin.instances
    assert backend.injected["before"] > 20 and backend.injected["after"] > 20, backend.injected
    assert stats["failed"] > 50 and stats["ok"] > 50, stats
    assert stats["rotations_failed"] > 0 and stats["rotations"] > stats["rotations_failed"]
    backend.enabled = False
    settle(manager, model)
    reopened = SecureSecretsManager(  # a fresh process view of the same store, no wrapper
        backends={"file": {"path": str(manager.settings.data_dir / "store")}}
    )
    for name in NAMES:
        expected = model.possible[name].pop()
        if expected is MISSING:
            with pytest.raises(SecretNotFoundError):
                reopened.retrieve_secret(name)
        else:
            assert reopened.retrieve_secret(name) == expected


@pytest.mark.slow
def test_a_rotation_failing_at_every_backend_call_resumes_until_done(faulty_manager) -> None:  # type: ignore[no-untyped-def]
    """Half the calls fail: the rotation is rerun until it completes, each time resuming the
    same target key, and no value changes on the way."""
    manager, plugin = faulty_manager
    values = {name: value_of(i) for i, name in enumerate(NAMES)}
    manager.backend()
    (backend,) = plugin.instances
    backend.enabled = False
    for name, value in values.items():
        manager.store_secret(name, value)
    backend.enabled, backend.rate = True, 0.5
    targets: set[str] = set()
    for attempt in range(200):
        try:
            event = manager.rotate_encryption_key(keep_old_keys=0)
        except SecretsError as exc:
            check_typed(exc)
            pending = manager.rotation_pending()
            if pending is not None:
                targets.add(pending)
            continue
        assert targets <= {event.details["new_key_id"]}, "a rerun resumes the same target"
        assert event.details["resumed"] is bool(targets)
        break
    else:
        pytest.fail("the rotation never completed")
    assert attempt > 0, "the faults must have interrupted it at least once"
    backend.enabled = False
    assert manager.rotation_pending() is None
    for name, value in values.items():
        assert manager.retrieve_secret(name) == value


def test_an_untyped_error_from_a_backend_plugin_is_converted() -> None:
    class Leaky:
        def read(self, name: str) -> bytes:
            raise ConnectionError("http://vault.internal:8200 token=s.leaked-token refused")

        write = delete = read

        def list_names(self, prefix: str = "") -> list[str]:
            return []

        def close(self) -> None:
            pass

    class Plugin:
        @hookimpl
        def secrets_register_backends(self) -> list[BackendSpec]:
            return [BackendSpec(name="leaky", factory=lambda o, c: Leaky())]

    registry = PluginRegistry(internal=[("core", builtin), ("leaky-test", Plugin())])
    manager = SecureSecretsManager(default_backend="leaky", registry=registry)
    for call in (
        lambda: manager.retrieve_secret("a"),
        lambda: manager.store_secret("a", "v"),
        lambda: manager.delete_secret("a"),
    ):
        with pytest.raises(BackendUnavailableError) as info:
            call()
        shown = "".join(
            traceback.format_exception(type(info.value), info.value, info.value.__traceback__)
        )
        chained: BaseException | None = info.value
        while chained is not None:  # suppressed contexts too: a debugger or logger shows them
            shown += f"{chained}{chained!r}"
            chained = chained.__cause__ or chained.__context__
        assert "leaked-token" not in shown, "the plugin's message is dropped"


# --- the operating system fails: EIO and ENOSPC under the real file backend ---------------------


class FailingDisk:
    """Makes a share of ``os.write``/``os.fsync``/``os.replace`` calls fail (EIO or ENOSPC)."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng, self.rate, self.enabled, self.failures = rng, rate, True, 0

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.enabled and self.rng.random() < self.rate:
                self.failures += 1
                code = self.rng.choice([errno.EIO, errno.ENOSPC])
                raise OSError(code, os.strerror(code))
            return real(*args, **kwargs)

        return call


@pytest.mark.slow
def test_random_eio_and_enospc_from_the_os_are_typed_and_lose_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("seed", "x")  # keyring and store exist before the disk fails
    model = Model()
    disk = FailingDisk(random.Random(SEED + 2), rate=0.08)
    with monkeypatch.context() as patch:  # (isolated_home uses monkeypatch too)
        for function in ("write", "fsync", "replace"):
            patch.setattr(os, function, disk.wrap(getattr(os, function)))
        stats = drive(manager, model, random.Random(SEED + 3), OPERATIONS // 2)
        disk.enabled = False
    assert disk.failures > 20 and stats["failed"] > 10, (disk.failures, stats)
    assert stats["rotations_failed"] > 0, stats
    data_dir = manager.settings.data_dir
    assert not list((data_dir / "store").glob(".*.tmp")), "a failed write removes its temp file"
    manager.rotate_encryption_key(keep_old_keys=0)  # completes once the disk is healthy
    assert manager.rotation_pending() is None
    assert not list(data_dir.glob(".keyring.json.*.tmp"))
    fresh = SecureSecretsManager()
    for name in NAMES:
        try:
            model.observed(name, fresh.retrieve_secret(name))
        except SecretNotFoundError:
            model.observed(name, MISSING)


@pytest.mark.parametrize("function", ["write", "fsync", "replace"])
def test_a_failing_keyring_write_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("k", "v")
    before = manager.key_ids()

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with monkeypatch.context() as patch:
        patch.setattr(os, function, fail)
        with pytest.raises(SecretsError):
            manager.rotate_encryption_key()
    assert SecureSecretsManager().key_ids() == before, "the keyring is unchanged"
    assert SecureSecretsManager().retrieve_secret("k") == "v"


# --- a store directory that really is read-only -------------------------------------------------


def make_read_only(path: Path) -> Callable[[], None]:
    """Make ``path`` unwritable for this process; return the undo. chmod does not stop root,
    so as root use the immutable attribute (chattr +i), and skip if that is unavailable."""
    if os.geteuid() != 0:
        path.chmod(0o500)
        return lambda: path.chmod(0o700)
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root (chmod does not stop root) and chattr is not installed")
    result = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(
            "running as root (chmod does not stop root) and the immutable attribute is "
            f"unavailable here: {result.stderr.strip()}"
        )
    return lambda: subprocess.run([chattr, "-i", str(path)], check=True)


@pytest.mark.slow
def test_a_read_only_store_directory(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    values = {name: value_of(i) for i, name in enumerate(NAMES)}
    for name, value in values.items():
        manager.store_secret(name, value)
    store = isolated_home / "data" / "secure-secrets" / "store"
    undo = make_read_only(store)
    try:
        probe = store / "probe"
        with pytest.raises(OSError):
            probe.write_bytes(b"")  # the directory really refuses new entries
        fresh = SecureSecretsManager()
        for name, value in values.items():
            assert fresh.retrieve_secret(name) == value, "reading needs no write access"
        assert fresh.list_secrets() == sorted(NAMES)
        for call in (
            lambda: fresh.store_secret("db/password", "new"),
            lambda: fresh.store_secret("brand/new", "new"),
            lambda: fresh.delete_secret("api/key"),
            lambda: fresh.rotate_encryption_key(keep_old_keys=0),
        ):
            with pytest.raises(SecretsError) as info:
                call()
            assert isinstance(info.value, BackendUnavailableError), repr(info.value)
        for name, value in values.items():
            assert fresh.retrieve_secret(name) == value, "nothing changed or was lost"
        assert fresh.rotation_pending() is not None, "the failed rotation is journaled"
    finally:
        undo()
    resumed = SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
    assert resumed.details["resumed"] is True
    after = SecureSecretsManager()
    for name, value in values.items():
        assert after.retrieve_secret(name) == value
    assert not list(store.glob(".*.tmp"))
