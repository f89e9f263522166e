"""Benchmark of the file backend against floors measured in the same run.

    .venv/bin/python benchmarks/bench_file.py            # full run (populates 100,000 secrets)
    .venv/bin/python benchmarks/bench_file.py --quick    # a short run: up to 10,000 secrets

Prints one table. Ratios, not absolutes, are what to read: the machine is noisy, so every
operation is timed interleaved with its floor (same iteration, same conditions) and each ratio
compares medians of those paired runs.

* get floor: read a file holding one Fernet token (open, one read, close) + Fernet-decrypt
  it. Ours: ``FileBackend.read`` of a record holding that token (and 9 older versions) + the
  same decrypt.
* set floor: Fernet-encrypt + write a temp file + fsync + ``os.replace`` + fsync of the
  directory, by hand with nothing else. Ours: the same encrypt + ``FileBackend.write``.
* The manager rows time ``SecureSecretsManager.retrieve_secret`` / ``store_secret`` (envelope
  encryption, name binding, audit) with ``audit_sinks=[]`` and with the default JSON-lines sink.
* Scaling: the same operations with 10 / 1,000 / 10,000 / 100,000 secrets stored. The store is
  filled by the real backend (every write fsynced), from a pool of processes to save time.
* Peers: keyrings.alt ``PlaintextKeyring`` and keyrings.cryptfile ``CryptFileKeyring``, with
  their default settings, at 10 and 1,000 secrets. Their files are filled by cloning one real
  entry (their ``set_password`` rewrites the whole file, and cryptfile runs Argon2 on every
  call, so filling them call by call would take hours); the timed get/set are real calls.

Everything runs in a temporary directory (``--dir`` to choose the filesystem); XDG variables
point there too, so nothing touches the user's own secrets, keys or audit log.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import Row, compare

TOKEN_PLAINTEXT = 64
PROBES = 5


def isolate(base: Path) -> None:
    """Point every user directory at ``base`` before secure_secrets is imported."""
    for var in list(os.environ):
        if var.startswith("SECURE_SECRETS_"):
            del os.environ[var]
    for xdg in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[xdg] = str(base / "home" / xdg.lower())


# --- timing ----------------------------------------------------------------------------------


class Samples:
    def __init__(self) -> None:
        self.ns: list[int] = []

    def add(self, ns: int) -> None:
        self.ns.append(ns)

    @property
    def p50(self) -> float:
        return statistics.median(self.ns) / 1000

    @property
    def p95(self) -> float:
        ordered = sorted(self.ns)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] / 1000


def paired(iterations: int, *operations: Callable[[int], object]) -> list[Samples]:
    """Time each operation once per iteration, so they share the machine's moods; the order
    rotates every iteration, so none always runs right after another's fsync."""
    results = [Samples() for _ in operations]
    clock = time.perf_counter_ns
    count = len(operations)
    for i in range(iterations):
        for k in range(count):
            j = (i + k) % count
            start = clock()
            operations[j](i)
            results[j].add(clock() - start)
    return results


def fmt_us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.1f} µs"


def fmt_short(value: float) -> str:
    return f"{value / 1e6:.2f} s" if value >= 1e6 else fmt_us(value)


# --- floors ----------------------------------------------------------------------------------


def plain_read(path: Path) -> bytes:
    """The floor of a read: open, one read, close."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def durable_replace(path: Path, data: bytes) -> None:
    """The floor of a durable write: temp + write + fsync + replace + directory fsync."""
    tmp = f"{path}.floor-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- population ------------------------------------------------------------------------------


def _fill(args: tuple[str, bytes, bytes, int, int]) -> None:
    from secure_secrets_file.backend import FileBackend

    from secrets_core.plugin import RecordKey

    root, key, mac_key, start, stop = args
    from cryptography.fernet import Fernet

    fernet = Fernet(key)
    backend = FileBackend(Path(root), record_key=lambda: RecordKey(mac_key, False))
    for i in range(start, stop):
        backend.write(f"fill/{i:06d}", fernet.encrypt(os.urandom(TOKEN_PLAINTEXT)))


def populate(root: Path, key: bytes, mac_key: bytes, have: int, want: int, workers: int) -> None:
    if want <= have:
        return
    count = want - have
    workers = max(1, min(workers, count // 50 or 1))
    step = -(-count // workers)
    chunks = [
        (str(root), key, mac_key, have + i, min(have + i + step, want))
        for i in range(0, count, step)
    ]
    if len(chunks) == 1:
        _fill(chunks[0])
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_fill, chunks)


# --- peers -------------------------------------------------------------------------------------


def clone_entries(path: Path, service: str, real_user: str, count: int) -> None:
    """Give a keyrings.* INI file ``count`` entries by cloning one real entry's stored value."""
    config = configparser.RawConfigParser()
    config.read(path)
    value = config.get(service, real_user)
    for i in range(count):
        config.set(service, f"filler{i:05d}", value)
    with open(path, "w") as handle:
        config.write(handle)


@dataclass(frozen=True)
class Peer:
    """A peer keyring's get/set p50 (µs) at ``size`` entries, or why it was not measured."""

    label: str
    size: int
    get_us: float | None = None
    set_us: float | None = None
    missing: str = ""


def bench_peers(base: Path, sizes: list[int], quick: bool) -> list[Peer]:
    peers: list[Peer] = []
    try:
        from keyrings.alt.file import PlaintextKeyring
    except ImportError:
        peers.append(Peer("keyrings.alt", 0, missing="not installed (pip install keyrings.alt)"))
        PlaintextKeyring = None  # noqa: N806
    try:
        from keyrings.cryptfile.cryptfile import CryptFileKeyring
    except ImportError:
        peers.append(
            Peer("keyrings.cryptfile", 0, missing="not installed (pip install keyrings.cryptfile)")
        )
        CryptFileKeyring = None  # noqa: N806

    def measure(label: str, make: Callable[[Path], object], reps: int) -> None:
        for size in sizes:
            folder = base / f"{label.split()[0]}-{size}"
            folder.mkdir(parents=True)
            ring = make(folder / "ring.cfg")
            ring.set_password("bench", "probe", "x" * TOKEN_PLAINTEXT)  # type: ignore[attr-defined]
            clone_entries(folder / "ring.cfg", "bench", "probe", size - 1)
            get, put = paired(
                reps,
                lambda i: ring.get_password("bench", "probe"),  # type: ignore[attr-defined]
                lambda i: ring.set_password("bench", "probe", f"{i:064d}"),  # type: ignore[attr-defined]
            )
            assert ring.get_password("bench", "probe") == f"{reps - 1:064d}"  # type: ignore[attr-defined]
            peers.append(Peer(label, size, get.p50, put.p50))

    if PlaintextKeyring is not None:

        def plain(path: Path) -> object:
            ring = PlaintextKeyring()
            ring.file_path = str(path)
            return ring

        measure("keyrings.alt PlaintextKeyring", plain, 20 if quick else 100)
    if CryptFileKeyring is not None:

        def crypt(path: Path) -> object:
            ring = CryptFileKeyring()
            ring.file_path = str(path)
            ring.keyring_key = "bench passphrase"
            return ring

        measure("keyrings.cryptfile (Argon2 per call)", crypt, 2 if quick else 4)
    return peers


# --- lock granularity --------------------------------------------------------------------------


def _lock_worker(args: tuple[str, bool, int, int]) -> None:
    from secure_secrets_file.backend import FileBackend
    from secure_secrets_file.locking import LockDirectory

    class StoreWideLocks(LockDirectory):
        """One lock for the whole store (what the first version of the backend did)."""

        def hold(self, key: str, what: str):  # type: ignore[no-untyped-def]
            return super().hold("store-wide", what)

        def try_hold(self, key: str):  # type: ignore[no-untyped-def]
            return super().try_hold("store-wide")

    class StoreWideBackend(FileBackend):
        lock_directory_class = StoreWideLocks

    root, store_wide, worker, count = args
    backend = (StoreWideBackend if store_wide else FileBackend)(Path(root))
    for i in range(count):
        backend.write(f"lock/{worker}/{i:05d}", b"x" * 200)


def bench_lock_scope(base: Path, count: int) -> list[tuple[str, ...]]:
    rows = []
    for store_wide in (False, True):
        root = base / f"locks-{store_wide}"
        from secure_secrets_file.backend import FileBackend

        FileBackend(root)
        start = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(4) as pool:
            pool.map(_lock_worker, [(str(root), store_wide, w, count) for w in range(4)])
        elapsed = time.perf_counter() - start
        label = "one store-wide lock" if store_wide else "per-secret locks (ours)"
        rows.append((label, f"{4 * count / elapsed:,.0f} writes/s", f"{elapsed:.2f} s"))
    return rows


# --- main ------------------------------------------------------------------------------------


@contextlib.contextmanager
def workspace(parent: str | None) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="bench-file-", dir=parent))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class FileRun:
    """Everything one run measured. ``points[size]`` holds the paired samples at that size:
    floor_get, get, mget, mget_audit, floor_set, set, mset, mset_audit."""

    sizes: list[int]
    points: dict[int, dict[str, Samples]] = field(default_factory=dict)
    extras: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # open, list, fill
    peers: list[Peer] = field(default_factory=list)
    lock_rows: list[tuple[str, ...]] = field(default_factory=list)
    total: float = 0.0


def measure(
    sizes: list[int],
    get_n: int,
    set_n: int,
    *,
    workers: int = 16,
    parent: str | None = None,
    peer_sizes: list[int] | None = None,
    quick: bool = False,
    lock_count: int | None = None,
) -> FileRun:
    """Run the benchmark: the floors and ours at each store size, then (if ``peer_sizes``) the
    peers, then (if ``lock_count``) the lock-granularity comparison."""
    run = FileRun(sizes)
    with workspace(parent) as base:
        isolate(base)
        from cryptography.fernet import Fernet
        from secure_secrets_file.backend import FileBackend

        from secrets_core.fsutil import ensure_private_dir
        from secure_secrets import SecureSecretsManager

        data_dir = base / "data"
        root = data_dir / "store"
        key = Fernet.generate_key()
        fernet = Fernet(key)
        quiet = SecureSecretsManager(data_dir=data_dir, audit_sinks=[])
        audited = SecureSecretsManager(data_dir=data_dir)
        quiet.initialize_keys()
        record_key = quiet.assembly.record_key()  # the backend MACs records as the manager's does
        assert record_key is not None
        backend = FileBackend(root, record_key=lambda: record_key)
        floor_dir = ensure_private_dir(base / "floor")
        floor_file = floor_dir / "token"
        value = os.urandom(TOKEN_PLAINTEXT)
        floor_file.write_bytes(fernet.encrypt(value))
        text = "v" * TOKEN_PLAINTEXT

        probes = [f"probe/backend{i}" for i in range(PROBES)]
        mgr_probes = [f"probe/manager{i}" for i in range(PROBES)]
        for _ in range(backend.max_versions):  # steady state: every probe holds max_versions
            for name in mgr_probes:  # the manager first: it makes the keyring in an empty store
                quiet.store_secret(name, text)
            for name in probes:
                backend.write(name, fernet.encrypt(value))
        stored = 2 * PROBES

        def floor_get(i: int) -> object:
            return fernet.decrypt(plain_read(floor_file))

        def floor_set(i: int) -> None:
            durable_replace(floor_file, fernet.encrypt(value))

        def ours_get(i: int) -> object:
            return fernet.decrypt(backend.read(probes[i % PROBES]))

        def ours_set(i: int) -> None:
            backend.write(probes[i % PROBES], fernet.encrypt(value))

        def mgr_get(manager: SecureSecretsManager) -> Callable[[int], object]:
            return lambda i: manager.retrieve_secret(mgr_probes[i % PROBES])

        def mgr_set(manager: SecureSecretsManager) -> Callable[[int], object]:
            return lambda i: manager.store_secret(mgr_probes[i % PROBES], text)

        started = time.perf_counter()
        for size in sizes:
            fill_start = time.perf_counter()
            populate(root, key, record_key.key, stored, size, workers)
            fill_time = time.perf_counter() - fill_start
            stored = max(stored, size)
            paired(200, floor_get, ours_get, mgr_get(quiet), mgr_get(audited))  # warm up
            fg, og, qg, ag = paired(get_n, floor_get, ours_get, mgr_get(quiet), mgr_get(audited))
            fs, os_, qs, as_ = paired(set_n, floor_set, ours_set, mgr_set(quiet), mgr_set(audited))
            open_start = time.perf_counter()
            FileBackend(root)
            open_ms = (time.perf_counter() - open_start) * 1000
            list_start = time.perf_counter()
            listed = len(backend.list_names(""))
            list_ms = (time.perf_counter() - list_start) * 1000
            assert listed == stored, (listed, stored)
            run.points[size] = {
                "floor_get": fg, "get": og, "mget": qg, "mget_audit": ag,
                "floor_set": fs, "set": os_, "mset": qs, "mset_audit": as_,
            }  # fmt: skip
            run.extras[size] = (open_ms, list_ms, fill_time)
            print(
                f"  measured at {size:,} secrets ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

        if peer_sizes:
            run.peers = bench_peers(base / "peers", peer_sizes, quick)
            print(f"  peers measured ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        if lock_count:
            run.lock_rows = bench_lock_scope(base / "lockscope", lock_count)
        run.total = time.perf_counter() - started
    return run


def rows(run: FileRun) -> list[Row]:
    """The report's rows: get/set against their floors at each size, the scaling ratios, the
    manager for reference, and the peers next to the manager (default audit) at their size."""
    out: list[Row] = []
    first = run.sizes[0]
    base = run.points[first]
    base_get = base["get"].p50 / base["floor_get"].p50
    base_set = base["set"].p50 / base["floor_set"].p50
    for size in run.sizes:
        point = run.points[size]
        at = f"{size:,} stored"
        fg, og, fs, os_ = point["floor_get"], point["get"], point["floor_set"], point["set"]
        out.append(compare("file", f"get, {at}", og.p50, fg.p50, fmt_us, at_most=2.5,
                           floor_label="read + Fernet decrypt"))  # fmt: skip
        if size == first:
            out.append(Row("file", f"get p95 / own p50, {at}", fmt_us(og.p95), fmt_us(og.p50),
                           og.p95 / og.p50, "<= 2x", round(og.p95 / og.p50, 2) <= 2))  # fmt: skip
        out.append(compare("file", f"set, {at}", os_.p50, fs.p50, fmt_us, at_most=1.3,
                           floor_label="Fernet encrypt + durable write"))  # fmt: skip
        if size != first:
            get_ratio, set_ratio = og.p50 / fg.p50, os_.p50 / fs.p50
            out.append(Row("file", f"get scaling, {at} vs {first:,}", f"{get_ratio:.2f}x floor",
                           f"{base_get:.2f}x floor", get_ratio / base_get, "<= 1.5x",
                           round(get_ratio / base_get, 2) <= 1.5))  # fmt: skip
            out.append(Row("file", f"set scaling, {at} vs {first:,}", f"{set_ratio:.2f}x floor",
                           f"{base_set:.2f}x floor", set_ratio / base_set, "<= 1.5x",
                           round(set_ratio / base_set, 2) <= 1.5))  # fmt: skip
    for key, label, floor_key in (
        ("mget", "manager retrieve, audit_sinks=[]", "floor_get"),
        ("mget_audit", "manager retrieve, default audit", "floor_get"),
        ("mset", "manager store, audit_sinks=[]", "floor_set"),
        ("mset_audit", "manager store, default audit", "floor_set"),
    ):
        out.append(compare("file", f"{label}, {first:,} stored", base[key].p50,
                           base[floor_key].p50, fmt_us))  # fmt: skip
    for peer in run.peers:
        if peer.missing:
            out.append(Row("peers", peer.label, "-", peer.missing, None, "", None))
            continue
        if peer.size not in run.points or peer.get_us is None or peer.set_us is None:
            continue
        ours = run.points[peer.size]
        at = f"{peer.size:,} stored"
        for op, peer_us, key in (
            ("get", peer.get_us, "mget_audit"),
            ("set", peer.set_us, "mset_audit"),
        ):
            out.append(Row("peers", f"{op}, {at}: {peer.label.split(' (')[0]}",
                           fmt_short(ours[key].p50), fmt_short(peer_us),
                           ours[key].p50 / peer_us))  # fmt: skip
    return out


def report_rows(level: str, sizes: list[int] | None = None, peers: bool = True) -> list[Row]:
    """Measure at ``level`` (full, quick or smoke) and return the report's rows."""
    get_n, set_n = {"full": (3000, 300), "quick": (600, 60), "smoke": (200, 20)}[level]
    if sizes is None:
        sizes = {"full": [10, 1000, 10000, 100000], "quick": [10, 1000], "smoke": [10, 100]}[level]
    peer_sizes: list[int] | None = [s for s in (10, 1000) if s in sizes] if peers else None
    run = measure(sizes, get_n, set_n, peer_sizes=peer_sizes, quick=level != "full")
    return rows(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run, up to 10,000 secrets")
    parser.add_argument(
        "--sizes", help="comma-separated store sizes (default 10,1000,10000,100000)"
    )
    parser.add_argument("--dir", help="where to create the temporary store (default: system temp)")
    parser.add_argument("--workers", type=int, default=16, help="processes filling the store")
    parser.add_argument("--no-peers", action="store_true", help="skip keyrings.alt/cryptfile")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [10, 1000, 10000] if args.quick else [10, 1000, 10000, 100000]
    )  # fmt: skip
    get_n, set_n = (600, 60) if args.quick else (3000, 300)
    run = measure(
        sizes, get_n, set_n, workers=args.workers, parent=args.dir,
        peer_sizes=None if args.no_peers else [10, 1000], quick=args.quick,
        lock_count=50 if args.quick else 200,
    )  # fmt: skip

    first = run.points[sizes[0]]
    fg, og, qg, ag = (first[k] for k in ("floor_get", "get", "mget", "mget_audit"))
    fs, os_, qs, as_ = (first[k] for k in ("floor_set", "set", "mset", "mset_audit"))
    head_rows: list[tuple[str, ...]] = [
        ("get: read + Fernet decrypt", fmt_us(fg.p50), fmt_us(og.p50),
         f"{og.p50 / fg.p50:.2f}x", "<= 2.5x"),
        ("get p95 / own p50", f"{fg.p95 / fg.p50:.2f}x", fmt_us(og.p95),
         f"{og.p95 / og.p50:.2f}x", "<= 2x"),
        ("set: Fernet encrypt + durable write", fmt_us(fs.p50), fmt_us(os_.p50),
         f"{os_.p50 / fs.p50:.2f}x", "<= 1.3x"),
        ("set p95 / own p50", f"{fs.p95 / fs.p50:.2f}x", fmt_us(os_.p95),
         f"{os_.p95 / os_.p50:.2f}x", ""),
        ("manager retrieve, audit_sinks=[]", fmt_us(fg.p50), fmt_us(qg.p50),
         f"{qg.p50 / fg.p50:.2f}x", ""),
        ("manager retrieve, default audit", fmt_us(fg.p50), fmt_us(ag.p50),
         f"{ag.p50 / fg.p50:.2f}x", ""),
        ("manager store, audit_sinks=[]", fmt_us(fs.p50), fmt_us(qs.p50),
         f"{qs.p50 / fs.p50:.2f}x", ""),
        ("manager store, default audit", fmt_us(fs.p50), fmt_us(as_.p50),
         f"{as_.p50 / fs.p50:.2f}x", ""),
    ]  # fmt: skip

    def ratios(size: int) -> dict[str, float]:
        p = run.points[size]
        return {
            "get": p["get"].p50 / p["floor_get"].p50, "set": p["set"].p50 / p["floor_set"].p50,
            "mget": p["mget"].p50 / p["floor_get"].p50, "mset": p["mset"].p50 / p["floor_set"].p50,
        }  # fmt: skip

    base_ratio = ratios(sizes[0])
    scale_rows: list[tuple[str, ...]] = []
    for size in sizes:
        p, r = run.points[size], ratios(size)
        open_ms, list_ms, fill_time = run.extras[size]
        scale_rows.append(
            (
                f"{size:,}",
                f"{fmt_us(p['get'].p50)} ({r['get'] / base_ratio['get']:.2f}x)",
                f"{fmt_us(p['set'].p50)} ({r['set'] / base_ratio['set']:.2f}x)",
                f"{fmt_us(p['mget'].p50)} ({r['mget'] / base_ratio['mget']:.2f}x)",
                f"{fmt_us(p['mset'].p50)} ({r['mset'] / base_ratio['mset']:.2f}x)",
                f"{fmt_us(p['mget_audit'].p50)}",
                f"{open_ms:.1f} ms / {list_ms:.1f} ms",
                f"{fill_time:.0f} s",
            )
        )

    print()
    print(
        f"secure-secrets file backend benchmark — Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"{'quick' if args.quick else 'full'} run, {run.total:.0f} s"
    )
    print(
        f"\nAgainst the floors (store holding {sizes[0]:,} secrets; ratios of paired medians; "
        "in the p95 rows the floor column is the floor's own p95/p50):\n"
    )
    print(table(("operation", "floor p50", "ours", "ratio", "target"), head_rows))
    print(
        "\nWith more secrets stored (ratio: ours/floor at this size over ours/floor at "
        f"{sizes[0]:,}; target <= 1.5x):\n"
    )
    print(
        table(
            ("secrets", "backend get", "backend set", "manager get (no audit)",
             "manager set (no audit)", "manager get (audit)", "open / list", "fill time"),
            scale_rows,
        )
    )  # fmt: skip
    if not args.no_peers:
        print("\nPeers, side by side (their defaults; values of 64 characters):\n")
        peer_table: list[tuple[str, ...]] = []
        for size in (10, 1000):
            if size in run.points:
                p = run.points[size]
                peer_table.append(("file backend + Fernet (ours)", f"{size:,}",
                                   fmt_us(p["get"].p50), fmt_us(p["set"].p50)))  # fmt: skip
                mget, mset = p["mget_audit"].p50, p["mset_audit"].p50
                peer_table.append(("SecureSecretsManager, default audit (ours)", f"{size:,}",
                                   fmt_us(mget), fmt_us(mset)))  # fmt: skip
        for peer in run.peers:
            if peer.missing:
                peer_table.append((peer.label, "-", peer.missing, ""))
            else:
                peer_table.append((peer.label, f"{peer.size:,}", fmt_us(peer.get_us or 0),
                                   fmt_us(peer.set_us or 0)))  # fmt: skip
        print(table(("store", "secrets", "get p50", "set p50"), peer_table))
    print("\nLock granularity: 4 processes writing distinct names at once:\n")
    print(table(("locking", "throughput", "elapsed"), run.lock_rows))


if __name__ == "__main__":
    main()
