"""Key rotation over every store that shares the keyring.

Rotation makes a new primary data key (or, for a cipher that rewraps on a server, rotates the
server key), re-seals every client-side-encrypted value in every store under it, and only
then retires old keys. It works on an :class:`~secrets_core.assembly.Assembly`, never on the
manager: the manager's ``rotate_encryption_key`` audits the call and delegates here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from secrets_core.assembly import Assembly
from secrets_core.errors import (
    BackendUnavailableError,
    ConfigError,
    RotationIncompleteError,
    SecretNotFoundError,
)
from secrets_core.keys import envelope
from secrets_core.plugin._api import (
    BackendSpec,
    Capability,
    RewrappingCipher,
    SoftDeleteBackend,
    StorageBackend,
    VersionedBackend,
)

#: ``progress(backend, done, total)`` is called as rotation re-encrypts secrets.
ProgressCallback = Callable[[str, int, int], None]
#: ``reseal(secret_name, token)``: the token re-sealed, or None when it needs no change.
Resealer = Callable[[str, bytes | str], bytes | None]


def rotate(
    assembly: Assembly,
    details: dict[str, Any],
    progress: ProgressCallback | None = None,
    keep_old_keys: int = 1,
) -> None:
    """Rotate, recording what was done in ``details`` (the audit event's)."""
    keys = assembly.key_manager()
    primary_id, primary = keys.primary()
    if isinstance(primary, RewrappingCipher):
        _rotate_on_server(assembly, details, primary_id, primary, progress)
    else:
        _rotate_data_key(assembly, details, progress, keep_old_keys)


def _rotate_data_key(
    assembly: Assembly,
    details: dict[str, Any],
    progress: ProgressCallback | None,
    keep_old_keys: int,
) -> None:
    keys = assembly.key_manager()
    new_id, resumed = keys.begin_rotation()
    details.update(new_key_id=new_id, resumed=resumed)
    covered = _rotate_stores(assembly, details, _resealer(assembly, new_id), progress)
    details["retired_key_ids"] = keys.finish_rotation(keep_old_keys, covered)


def _rotate_on_server(
    assembly: Assembly,
    details: dict[str, Any],
    key_id: str,
    cipher: RewrappingCipher,
    progress: ProgressCallback | None,
) -> None:
    """Rotate the cipher's server key and rewrap every token under it: the data key (and so
    the key id) stays, and the server re-encrypts (each result is verified by one decryption
    before it replaces the old token). Resuming is running it again: tokens already under the
    newest server key are left alone."""
    cipher.rotate_server_key()
    details.update(key_id=key_id, server_rewrap=True)
    keys = assembly.key_manager()
    to_primary = _resealer(assembly, key_id)

    def rewrap(secret_name: str, token: bytes | str) -> bytes | None:
        if envelope.key_id_of(token, secret_name) != key_id:  # under an older data key
            return to_primary(secret_name, token)
        rewrapped = envelope.rewrap(cipher, token, secret_name)
        if rewrapped is not None:  # verify before the backend replaces the old token
            envelope.open_token(keys.cipher_for(key_id, secret_name), rewrapped, secret_name)
        return rewrapped

    _rotate_stores(assembly, details, rewrap, progress)


def _rotate_stores(
    assembly: Assembly,
    details: dict[str, Any],
    reseal: Resealer,
    progress: ProgressCallback | None,
) -> set[str]:
    """Re-seal every store: the configured backends, the zero-config ``file`` store, and
    every store in the keyring's ledger (opened with its recorded options), each once.
    Returns the ids of the stores covered; raises :class:`RotationIncompleteError` naming
    every store that could not be (down, not configured as recorded, plugin missing, a
    secret it lists but cannot rewrite), after doing all the others."""
    keys = assembly.key_manager()
    counts: dict[str, dict[str, int]] = {}
    details["backends"] = counts
    problems: dict[str, str] = {}
    covered: set[str] = set()
    tried: set[str] = set()  # ids of the stores visited, covered or not
    in_ledger = {entry["id"] for entry in keys.stores()}

    def visit(label: str, open_store: Callable[[], tuple[BackendSpec, StorageBackend]],
              entry: Mapping[str, Any] | None) -> None:  # fmt: skip
        try:
            spec, backend = open_store()
            if entry is None:
                entry = assembly.store_entry(spec.name, backend)
        except (BackendUnavailableError, ConfigError) as exc:
            counts[label] = {"rotated": 0, "skipped": 0, "failed": 1}
            problems[label] = str(exc)
            return
        if entry["id"] in covered | tried:
            return
        tried.add(entry["id"])
        counts[label], problem = _rotate_backend(label, spec, backend, reseal, progress)
        if problem is not None:
            problems[label] = problem
            return
        covered.add(entry["id"])
        holds_ciphertext = Capability.ENCRYPTS_AT_REST not in spec.capabilities
        stored = counts[label]["rotated"] + counts[label]["skipped"]
        if holds_ciphertext and stored and entry["id"] not in in_ledger:
            keys.record_store(dict(entry))  # a store written before the ledger existed

    names = assembly.configured_backend_names()
    if "file" not in names and assembly.registry.has("backend", "file"):
        names.append("file")  # the zero-config store, whatever the default backend is
    for name in names:
        visit(name, functools.partial(assembly.backend, name), None)
    while True:  # the ledger again: a store may have been recorded meanwhile
        pending = [e for e in keys.stores() if e["id"] not in covered | tried]
        if not pending:
            break
        for entry in pending:
            label = entry["backend"]
            if label in counts:
                label += " " + json.dumps(entry["options"], sort_keys=True)
            visit(label, functools.partial(assembly.open_recorded_store, entry), entry)
            tried.add(entry["id"])  # also when it could not be opened
    if problems:
        raise RotationIncompleteError(
            "no key was retired: the rotation could not cover every store sealed with this "
            "keyring: "
            + "; ".join(f"store '{label}': {why}" for label, why in sorted(problems.items()))
            + ". Fix each one (start it, install its plugin, configure [backends.NAME] as "
            "recorded) and run `secure-secrets rotate-key` (rotate_encryption_key()) again: "
            "it resumes where it stopped"
        )
    return covered


def _rotate_backend(
    label: str,
    spec: BackendSpec,
    backend: StorageBackend,
    reseal: Resealer,
    progress: ProgressCallback | None,
) -> tuple[dict[str, int], str | None]:
    """Re-seal one store; its counts and what stopped it, if anything did."""
    counts = {"rotated": 0, "skipped": 0, "failed": 0}
    if Capability.LIST not in spec.capabilities:
        counts["failed"] = 1
        return counts, "it cannot list its secrets, so they cannot be re-encrypted"
    try:
        names = sorted(backend.list_names(""))
        if Capability.SOFT_DELETE in spec.capabilities:  # deleted secrets can be restored
            names = sorted(set(names) | set(cast(SoftDeleteBackend, backend).list_deleted("")))
    except BackendUnavailableError as exc:
        counts["failed"] = 1
        return counts, str(exc)
    if Capability.ENCRYPTS_AT_REST in spec.capabilities:
        counts["skipped"] = len(names)  # server-managed encryption
        return counts, None
    # rewrite_versions (VERSIONS) or rewrite (optional, one value) replaces a secret's values
    # under the backend's own lock; a read then a write could overwrite a value another
    # process stores in between.
    rewrite: Callable[[str, Callable[[bytes | str], bytes | str]], int | bool] | None = (
        cast(VersionedBackend, backend).rewrite_versions
        if Capability.VERSIONS in spec.capabilities
        else getattr(backend, "rewrite", None)
    )
    lost: list[str] = []

    def rotate_one(secret_name: str) -> bool:
        try:
            if rewrite is None:
                return _reseal_one(backend, secret_name, reseal)

            def transform(token: bytes | str) -> bytes | str:
                return reseal(secret_name, token) or token

            return bool(rewrite(secret_name, transform))
        except SecretNotFoundError:  # deleted concurrently, or a backend bug: look again
            if _still_stored(spec, backend, secret_name):
                lost.append(secret_name)
            return False

    try:
        for done, secret_name in enumerate(names, 1):
            counts["rotated" if rotate_one(secret_name) else "skipped"] += 1
            if progress is not None:
                progress(label, done, len(names))
        if Capability.VERSIONS not in spec.capabilities:
            # Second pass: every secret must now open under the new key. It also re-seals
            # what a concurrent writer holding a stale keyring stored under the old key.
            for secret_name in backend.list_names(""):
                if rotate_one(secret_name):
                    counts["rotated"] += 1
    except BackendUnavailableError as exc:  # down mid-rotation: the others still go ahead
        counts["failed"] += 1
        return counts, str(exc)
    if lost:
        counts["failed"] += len(lost)
        return counts, (
            f"its rewrite reported secret(s) {', '.join(repr(n) for n in lost)} as not found, "
            "but it still lists them (a backend bug: soft-deleted secrets must be rewritten "
            "too)"
        )
    return counts, None


def _still_stored(spec: BackendSpec, backend: StorageBackend, secret_name: str) -> bool:
    """Whether a secret whose rewrite said "not found" is still listed, live or deleted."""
    if secret_name in backend.list_names(secret_name):
        return True
    return Capability.SOFT_DELETE in spec.capabilities and secret_name in cast(
        SoftDeleteBackend, backend
    ).list_deleted(secret_name)


def _resealer(assembly: Assembly, new_id: str) -> Resealer:
    """A function re-sealing a token under ``new_id`` (verified), or returning None for a
    token that is already under it. A corrupt token raises, naming the secret, before any
    key is retired."""
    keys = assembly.key_manager()
    new_cipher = keys.cipher_for(new_id, "")

    def reseal(secret_name: str, token: bytes | str) -> bytes | None:
        key_id = envelope.key_id_of(token, secret_name)
        if key_id == new_id:
            envelope.open_token(new_cipher, token, secret_name)
            return None
        secret = envelope.open_token(keys.cipher_for(key_id, secret_name), token, secret_name)
        resealed = envelope.seal(new_cipher, new_id, secret_name, secret)
        envelope.open_token(new_cipher, resealed, secret_name)
        return resealed

    return reseal


def _reseal_one(backend: StorageBackend, secret_name: str, reseal: Resealer) -> bool:
    try:
        token = backend.read(secret_name)
    except SecretNotFoundError:  # deleted concurrently
        return False
    resealed = reseal(secret_name, token)
    if resealed is None:
        return False
    backend.write(secret_name, resealed)
    return True
