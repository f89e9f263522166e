"""Key rotation over every store that shares the keyring.

Rotation makes a new primary data key (or, for a cipher that rewraps on a server, rotates the
server key), re-seals every client-side-encrypted value in every store under it, and only
then retires old keys. It works on an :class:`~secrets_core.assembly.Assembly`, never on the
manager: the manager's ``rotate_encryption_key`` audits the call and delegates here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from secrets_core.assembly import Assembly
from secrets_core.errors import BackendUnavailableError, ConfigError, SecretNotFoundError
from secrets_core.keys import envelope
from secrets_core.plugin._api import (
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
    counts: dict[str, dict[str, int]] = {}
    details["backends"] = counts
    for name in assembly.configured_backend_names():
        counts[name] = _rotate_backend(assembly, name, _resealer(assembly, new_id), progress)
    _raise_if_failed(counts)
    details["retired_key_ids"] = keys.finish_rotation(keep_old_keys)


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
    counts: dict[str, dict[str, int]] = {}
    details["backends"] = counts
    keys = assembly.key_manager()
    to_primary = _resealer(assembly, key_id)

    def rewrap(secret_name: str, token: bytes | str) -> bytes | None:
        if envelope.key_id_of(token, secret_name) != key_id:  # under an older data key
            return to_primary(secret_name, token)
        rewrapped = envelope.rewrap(cipher, token, secret_name)
        if rewrapped is not None:  # verify before the backend replaces the old token
            envelope.open_token(keys.cipher_for(key_id, secret_name), rewrapped, secret_name)
        return rewrapped

    for name in assembly.configured_backend_names():
        counts[name] = _rotate_backend(assembly, name, rewrap, progress)
    _raise_if_failed(counts)


def _raise_if_failed(counts: Mapping[str, Mapping[str, int]]) -> None:
    failed = [name for name, c in counts.items() if c["failed"]]
    if failed:
        raise BackendUnavailableError(
            f"rotation could not reach backend {', '.join(failed)}; old keys are kept "
            "so nothing is lost; fix the backend and run the rotation again to resume"
        )


def _rotate_backend(
    assembly: Assembly, name: str, reseal: Resealer, progress: ProgressCallback | None
) -> dict[str, int]:
    counts = {"rotated": 0, "skipped": 0, "failed": 0}
    try:
        spec, backend = assembly.backend(name)
    except (BackendUnavailableError, ConfigError):
        counts["failed"] = 1
        return counts
    if Capability.LIST not in spec.capabilities:
        counts["failed"] = 1
        return counts
    names = sorted(backend.list_names(""))
    if Capability.SOFT_DELETE in spec.capabilities:  # deleted secrets can be restored
        names = sorted(set(names) | set(cast(SoftDeleteBackend, backend).list_deleted("")))
    if Capability.ENCRYPTS_AT_REST in spec.capabilities:
        counts["skipped"] = len(names)  # server-managed encryption
        return counts
    # rewrite_versions (VERSIONS) or rewrite (optional, one value) replaces a secret's values
    # under the backend's own lock; a read then a write could overwrite a value another
    # process stores in between.
    rewrite: Callable[[str, Callable[[bytes | str], bytes | str]], int | bool] | None = (
        cast(VersionedBackend, backend).rewrite_versions
        if Capability.VERSIONS in spec.capabilities
        else getattr(backend, "rewrite", None)
    )

    def rotate_one(secret_name: str) -> bool:
        if rewrite is None:
            return _reseal_one(backend, secret_name, reseal)

        def transform(token: bytes | str) -> bytes | str:
            return reseal(secret_name, token) or token

        try:
            return bool(rewrite(secret_name, transform))
        except SecretNotFoundError:  # deleted concurrently
            return False

    for done, secret_name in enumerate(names, 1):
        counts["rotated" if rotate_one(secret_name) else "skipped"] += 1
        if progress is not None:
            progress(name, done, len(names))
    if Capability.VERSIONS not in spec.capabilities:
        # Second pass: every secret must now open under the new key. It also re-seals what a
        # concurrent writer holding a stale keyring stored under the old key.
        for secret_name in backend.list_names(""):
            if rotate_one(secret_name):
                counts["rotated"] += 1
    return counts


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
