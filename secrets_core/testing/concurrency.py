"""Backend contracts, part three: writers sharing a store lose no write, whether they are
threads sharing one instance or (for backends declaring ``Capability.MULTI_PROCESS``)
processes each with an instance of their own. Mixed into
:class:`~secrets_core.testing.BackendContract`."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from secrets_core.errors import SecretNotFoundError
from secrets_core.plugin._api import Capability, StorageBackend, VersionedBackend
from secrets_core.testing.basics import CapabilityTests

#: What one writer process reports: its number, (version, value) of each write to the shared
#: name, and the error that stopped it (type and message), if any.
Report = tuple[int, list[tuple[Any, str]], str | None]


class ConcurrencyContract:
    """Several threads sharing one backend instance lose no write. Mixed into
    :class:`BackendContract`."""

    THREADS = 8
    WRITES = 10

    def test_threads_sharing_one_instance_lose_no_write(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        errors: list[BaseException] = []
        versions: list[object] = []
        lock = threading.Lock()

        def work(thread: int) -> None:
            try:
                for i in range(self.WRITES):
                    backend.write(f"kit_thread/{thread}", f"{thread}-{i}")
                    version = backend.write("kit_thread/shared", f"{thread}-{i}")
                    with lock:
                        versions.append(version)
            except BaseException as exc:  # noqa: BLE001  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(self.THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, f"concurrent writes raised {errors[0]!r}"
        for t in range(self.THREADS):
            assert backend.read(f"kit_thread/{t}") == f"{t}-{self.WRITES - 1}", "a write was lost"
        if Capability.VERSIONS in capabilities:
            assert len(set(versions)) == len(versions), (
                "concurrent writes to one secret must each get their own version number"
            )


class MultiProcessContract(CapabilityTests):
    """For a backend declaring ``Capability.MULTI_PROCESS``: ``PROCESSES`` processes (fresh
    interpreters), each with its own instance built by ``backend_maker`` on the same store,
    write their own name and one shared name ``WRITES`` times each, all at once. Afterwards a
    fresh instance and the ``backend`` instance made before they started both read every
    process's last write and list every name; the shared name holds one process's last write;
    with ``VERSIONS``, every write got its own version number, increasing within each
    process, and each retained version reads back the value written under it."""

    PROCESSES = 4
    WRITES = 10

    def test_processes_sharing_one_store_lose_no_write(
        self,
        backend: StorageBackend,
        backend_maker: Callable[[], StorageBackend],
        capabilities: frozenset[Capability],
    ) -> None:
        self.needs(capabilities, Capability.MULTI_PROCESS)
        try:
            pickle.dumps(backend_maker)
        except Exception as exc:  # noqa: BLE001  # explained below
            pytest.fail(
                f"backend_maker must pickle to reach a child process ({type(exc).__name__}): "
                'give the BackendSpec a "module:attr" factory or a module-level function, or '
                "override the backend_maker fixture"
            )
        reports = self._run_writers(backend_maker)
        failed = [(w, error) for w, _, error in reports if error is not None]
        assert not failed, f"a writer process failed: process {failed[0][0]}: {failed[0][1]}"
        fresh = backend_maker()
        try:
            self._check_nothing_lost(
                fresh, capabilities, "was lost (a process wrote back an older copy of the store?)"
            )
        finally:
            fresh.close()
        self._check_nothing_lost(
            backend,
            capabilities,
            "is not seen by an instance opened before the processes wrote (a stale cache?)",
        )
        if Capability.VERSIONS in capabilities:
            self._check_versions(backend, [shared for _, shared, _ in reports])

    def _check_nothing_lost(
        self, backend: StorageBackend, capabilities: frozenset[Capability], problem: str
    ) -> None:
        last = {f"{w}-{self.WRITES - 1}" for w in range(self.PROCESSES)}
        for w in range(self.PROCESSES):
            try:
                value: object = backend.read(f"kit_proc/{w}")
            except SecretNotFoundError:
                value = None
            assert value == f"{w}-{self.WRITES - 1}", (
                f"process {w}'s last write to its own name {problem}: read {value!r}"
            )
        if Capability.LIST in capabilities:
            assert backend.list_names("kit_proc/") == sorted(
                [f"kit_proc/{w}" for w in range(self.PROCESSES)] + ["kit_proc/shared"]
            ), f"list_names must list every name any process wrote: a name {problem}"
        assert backend.read("kit_proc/shared") in last, (
            "the shared name must hold the last write of one of the processes"
        )

    def _run_writers(self, maker: Callable[[], StorageBackend]) -> list[Report]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        command = [sys.executable, "-m", "secrets_core.testing._process_writer"]
        writers = [
            subprocess.Popen(  # noqa: S603  # this interpreter, the kit's own module
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )  # fmt: skip
            for _ in range(self.PROCESSES)
        ]
        try:
            for worker, writer in enumerate(writers):
                assert writer.stdin is not None and writer.stdout is not None
                writer.stdin.write(pickle.dumps((maker, worker, self.WRITES)))
                writer.stdin.flush()
            ready = [w.stdout.readline() if w.stdout else b"" for w in writers]
            reports: list[Report] = []
            for worker, (writer, line) in enumerate(zip(writers, ready)):
                out, err = writer.communicate(b"go\n", timeout=180)
                early = line if line.strip() != b"ready" else b""  # it failed before: why
                reports.append(self._report(worker, early + out, err))
            return reports
        except subprocess.TimeoutExpired:
            pytest.fail("a writer process did not finish within 180 s (a lock never released?)")
        finally:
            for writer in writers:
                if writer.poll() is None:
                    writer.kill()
                    writer.wait()

    @staticmethod
    def _report(worker: int, out: bytes, err: bytes) -> Report:
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            answer = json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            return worker, [], f"the process died: {' | '.join(tail)}"
        return worker, [tuple(pair) for pair in answer["shared"]], answer["error"]

    def _check_versions(self, backend: StorageBackend, shared: list[list[tuple[Any, str]]]) -> None:
        assert isinstance(backend, VersionedBackend)
        every = [version for writes in shared for version, _ in writes]
        for writes in shared:
            mine = [version for version, _ in writes]
            assert all(isinstance(v, int) for v in mine), "with VERSIONS, write returns the version"
            assert mine == sorted(set(mine)), (
                f"one process's writes must get increasing version numbers: {mine}"
            )
        assert len(set(every)) == len(every), (
            "writes from different processes to one name must each get their own version number"
        )
        for version, value in (pair for writes in shared for pair in writes):
            try:
                stored = backend.read_version("kit_proc/shared", version)
            except SecretNotFoundError:
                continue  # no longer retained
            assert stored == value, (
                f"version {version} must read back the value written under it, not {stored!r}"
            )
        newest = max(every)
        assert backend.read_version("kit_proc/shared", newest) == backend.read("kit_proc/shared"), (
            "read must return the highest version written by any process"
        )
