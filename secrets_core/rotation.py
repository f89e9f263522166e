"""Key rotation over every store that shares the keyring.

Rotation makes a new primary data key (or, for a cipher that rewraps on a server, rotates the
server key), re-seals every client-side-encrypted value in every store under it, and only
then retires old keys. It works on an :class:`~secrets_core.assembly.Assembly`, never on the
manager: the manager's ``rotate_encryption_key`` audits the call and delegates here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, cast

from secrets_core.assembly import Assembly
from secrets_core.errors import (
    BackendUnavailableError,
    ConfigError,
    IntegrityError,
    KeyNotAvailableError,
    KeyringRollbackError,
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


#: One store sealed with the keyring: a label for messages and counts, its descriptor (the
#: instance's capabilities), the backend and its ledger entry.
Store = tuple[str, BackendSpec, StorageBackend, Mapping[str, Any]]


def _each_store(assembly: Assembly, problems: dict[str, str]) -> Iterator[Store]:
    """Every store that may hold ciphertext of this keyring, once each: the configured
    backends, the zero-config ``file`` store, and every store in the keyring's ledger
    (opened with its recorded options; the ledger is read again at the end, as a store may
    have been recorded meanwhile). A store that cannot be opened is put in ``problems``."""
    keys = assembly.key_manager()
    seen: set[str] = set()
    labels: set[str] = set()

    def opened(label: str, open_store: Callable[[], tuple[BackendSpec, StorageBackend]],
               entry: Mapping[str, Any] | None) -> Store | None:  # fmt: skip
        labels.add(label)
        try:
            spec, backend = open_store()
            if entry is None:
                entry = assembly.ledger.entry(spec.name, backend)
        except (BackendUnavailableError, ConfigError) as exc:
            problems[label] = str(exc)
            return None
        if entry["id"] in seen:
            return None
        seen.add(entry["id"])
        return label, spec, backend, entry

    names = assembly.configured_backend_names()
    if "file" not in names and assembly.registry.has("backend", "file"):
        names.append("file")  # the zero-config store, whatever the default backend is
    for name in names:
        store = opened(name, functools.partial(assembly.backend, name), None)
        if store is not None:
            yield store
    while True:
        pending = [entry for entry in keys.stores() if entry["id"] not in seen]
        if not pending:
            return
        for entry in pending:
            label = entry["backend"]
            if label in labels:
                label += " " + json.dumps(entry["options"], sort_keys=True)
            store = opened(label, functools.partial(assembly.ledger.open_recorded, entry), entry)
            seen.add(entry["id"])  # also when it could not be opened
            if store is not None:
                yield store


def _rotate_stores(
    assembly: Assembly,
    details: dict[str, Any],
    reseal: Resealer,
    progress: ProgressCallback | None,
) -> set[str]:
    """Re-seal every store (see :func:`_each_store`). Returns the ids of the stores covered;
    raises :class:`RotationIncompleteError` naming every store that could not be (down, not
    configured as recorded, plugin missing, a secret it lists but cannot rewrite), after
    doing all the others."""
    keys = assembly.key_manager()
    counts: dict[str, dict[str, int]] = {}
    details["backends"] = counts
    problems: dict[str, str] = {}
    covered: set[str] = set()
    in_ledger = {entry["id"] for entry in keys.stores()}
    for label, spec, backend, entry in _each_store(assembly, problems):
        assembly.ledger.check_stamp(backend, entry["id"])  # refuse a rolled-back keyring
        counts[label], problem = _rotate_backend(label, spec, backend, reseal, progress)
        if problem is not None:
            problems[label] = problem
            continue
        covered.add(entry["id"])
        holds_ciphertext = Capability.ENCRYPTS_AT_REST not in spec.capabilities
        stored = counts[label]["rotated"] + counts[label]["skipped"]
        if holds_ciphertext and stored and entry["id"] not in in_ledger:
            keys.record_store(dict(entry))  # a store written before the ledger existed
    for label in problems:
        counts.setdefault(label, {"rotated": 0, "skipped": 0, "failed": 1})
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


class KeyCheck(NamedTuple):
    """What :func:`verify_keys` found. ``checked``: tokens read per store; ``unopenable``:
    ``(store, secret, why)`` for each secret whose ciphertext names a data key the keyring
    does not hold (or is not a token); ``problems``: stores that could not be checked."""

    checked: dict[str, int]
    unopenable: list[tuple[str, str, str]]
    problems: dict[str, str]
    rolled_back: dict[str, str]  # stores that have seen a newer keyring than this one

    @property
    def ok(self) -> bool:
        return not (self.unopenable or self.problems or self.rolled_back)


def verify_keys(assembly: Assembly) -> KeyCheck:
    """Check that every stored ciphertext (every version, soft-deleted secrets too) in every
    store sealed with the keyring names a data key the keyring holds, reading key ids from
    the token headers without decrypting anything; and that no store has seen a newer
    keyring (a rolled-back ``keyring.json``)."""
    known = set(assembly.key_manager().key_ids())
    checked: dict[str, int] = {}
    unopenable: list[tuple[str, str, str]] = []
    problems: dict[str, str] = {}
    rolled_back: dict[str, str] = {}
    for label, spec, backend, entry in _each_store(assembly, problems):
        try:
            assembly.ledger.check_stamp(backend, entry["id"], update=False)
        except KeyringRollbackError as exc:
            rolled_back[label] = str(exc)
        try:
            if Capability.ENCRYPTS_AT_REST in spec.capabilities:
                continue
            checked[label] = 0
            _check_tokens(_stored_tokens(spec, backend), known, label, checked, unopenable)
        except (BackendUnavailableError, KeyNotAvailableError, IntegrityError) as exc:
            problems[label] = str(exc)
    return KeyCheck(checked, unopenable, problems, rolled_back)


# A token's head, b"ss1:" + 16-hex key id + b":", the part envelope.key_id_of reads.


def _check_tokens(
    stored: Iterator[tuple[str, list[bytes | str]]],
    known: set[str],
    label: str,
    checked: dict[str, int],
    unopenable: list[tuple[str, str, str]],
) -> None:
    """Count the tokens of one store in ``checked[label]`` and add each secret with a token
    that is not one, or names a data key not in ``known``, to ``unopenable``. A head seen
    once with a known key is then a set lookup (a store has a handful of data keys)."""
    good_heads: set[bytes | str] = set()
    count = 0
    try:
        for name, tokens in stored:
            for token in tokens:
                count += 1
                head = token[: envelope.HEAD_SIZE]
                if head in good_heads:
                    continue
                try:
                    key_id = envelope.key_id_of(token, name)
                except IntegrityError as exc:
                    unopenable.append((label, name, str(exc)))
                    break
                if key_id not in known:
                    unopenable.append((label, name, f"under data key {key_id}, not in the keyring"))
                    break
                good_heads.add(head)
    finally:
        checked[label] = count


def _stored_tokens(
    spec: BackendSpec, backend: StorageBackend
) -> Iterator[tuple[str, list[bytes | str]]]:
    """Every secret's stored tokens, every retained version, soft-deleted ones too: the
    backend's ``iter_stored_values()`` if it has one (the ``file`` backend: one scan and one
    lock-free read per record), else :func:`_tokens_one_by_one`."""
    bulk = getattr(backend, "iter_stored_values", None)
    if callable(bulk):
        return cast(Iterator[tuple[str, list[bytes | str]]], bulk())
    return _tokens_one_by_one(spec, backend)


def _tokens_one_by_one(
    spec: BackendSpec, backend: StorageBackend
) -> Iterator[tuple[str, list[bytes | str]]]:
    """Every secret's stored tokens through ``rewrite_versions`` with a transform that
    changes nothing, else ``read``."""
    if Capability.LIST not in spec.capabilities:
        raise BackendUnavailableError(f"backend '{spec.name}' cannot list its secrets")
    names = set(backend.list_names(""))
    if Capability.SOFT_DELETE in spec.capabilities:
        names |= set(cast(SoftDeleteBackend, backend).list_deleted(""))
    for name in sorted(names):
        tokens: list[bytes | str] = []

        def keep(token: bytes | str, tokens: list[bytes | str] = tokens) -> bytes | str:
            tokens.append(token)
            return token  # unchanged: nothing is rewritten

        try:
            if Capability.VERSIONS in spec.capabilities:
                cast(VersionedBackend, backend).rewrite_versions(name, keep)
            else:
                tokens.append(backend.read(name))
        except SecretNotFoundError:  # deleted meanwhile
            continue
        yield name, tokens


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
