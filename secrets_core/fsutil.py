"""Small filesystem helpers shared by the core and the file-based plugins.

Private modes whatever the umask, symlink refusal, and durable atomic replacement:
temp file in the same directory, fsync, ``os.replace``, fsync of the directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from secrets_core.errors import BackendConfigurationError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
TEMP_SUFFIX = ".tmp"


def refuse_symlink(path: Path) -> None:
    """Raise if ``path`` is a symlink (store and key paths must be real files/dirs)."""
    if path.is_symlink():
        raise BackendConfigurationError(
            f"{path} is a symlink; secure-secrets refuses symlinked store and key paths. "
            "Point the config at the real location instead."
        )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` if needed, and every missing parent, each 0700 whatever the umask (a
    parent made world-writable would let another user move the directory away); make ``path``
    itself 0700; refuse a symlink. Existing parents writable by others are logged."""
    refuse_symlink(path)
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made concurrently: checked below
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        if directory != path:
            os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    refuse_symlink(path)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    warn_if_parents_are_shared(path)
    return path


def shared_parents(path: Path) -> list[Path]:
    """Parents of ``path`` that users other than the owner may write to (without the sticky
    bit, which stops them renaming what they do not own, as on /tmp)."""
    found = []
    for directory in path.parents:
        try:
            mode = directory.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
            found.append(directory)
    return found


_warned: set[Path] = set()


def warn_if_parents_are_shared(path: Path) -> None:
    for directory in shared_parents(path):
        if directory not in _warned:
            _warned.add(directory)
            from secrets_core.lazylog import get_logger

            get_logger("secrets_core").warning(
                "%s is writable by other users, who could replace %s: chmod go-w %s",
                directory,
                path,
                directory,
            )


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_TEMP_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _new_temp(directory: str, name: str) -> tuple[int, str]:
    """A new file ``.<name>.<random>.tmp`` in ``directory``, created 0600 and exclusively
    (what ``tempfile.mkstemp`` does, without its pure-Python name generator: a write's
    Python work runs between fsyncs, where it costs several times what it does hot)."""
    for _attempt in range(100):
        tmp = f"{directory}/.{name}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
        try:
            return os.open(tmp, _TEMP_FLAGS, PRIVATE_FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temp file name", f"{directory}/{name}")


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes,
    mode: int = PRIVATE_FILE_MODE,
    *,
    symlink_checked: bool = False,
) -> None:
    """Durably replace ``path`` with ``data``: readers see the old or the new bytes, never a
    mix, and after return the new bytes survive a power cut. On failure the old file is left
    intact and the temp file removed. A symlink at ``path`` is refused, unless the caller
    says it has just checked (``symlink_checked``: the file backend, which opened the record
    no-follow under its lock)."""
    target = os.fspath(path)
    if not symlink_checked:
        refuse_symlink(Path(target))
    directory, name = os.path.split(target)
    fd, tmp = _new_temp(directory or ".", name)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory or ".")


#: Files the tool reads (keyring, key file, config, caches) are small; anything larger is
#: not ours, and reading it whole would only cost memory.
MAX_READ_BYTES = 16 * 1024 * 1024
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # a planted symlink is refused, not followed
    | getattr(os, "O_NONBLOCK", 0)  # a planted FIFO or device does not block the open
    | getattr(os, "O_CLOEXEC", 0)
)


def open_regular_file(path: Path | str) -> int:
    """Open ``path`` for reading as untrusted input: no symlink, no FIFO, device or
    directory (an ``OSError`` naming the problem), never blocking. Returns the descriptor."""
    fd = os.open(path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private_file(path: Path | str, limit: int | None = MAX_READ_BYTES) -> bytes:
    """Read a local file as untrusted input (see :func:`open_regular_file`), at most ``limit``
    bytes (None: no cap). Every refusal is an ``OSError`` whose ``strerror`` says why, so
    callers turn it into their typed error as they do for a missing or unreadable file."""
    fd = open_regular_file(path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data
