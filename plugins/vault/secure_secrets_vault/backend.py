"""The Vault/OpenBao KV storage backend (KV v2 with versions, metadata, check-and-set and
soft delete; KV v1 with read/write/delete/list).

Secret ``NAME`` lives at ``<mount>/data/NAME`` (KV v2) or ``<mount>/NAME`` (KV v1); names are
validated by the core (letters, digits, ``_ . -`` and ``/`` between segments), so they are
safe as URL paths. Values are laid out as described in :mod:`secure_secrets_vault.encoding`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import hvac
import hvac.exceptions

from secrets_core.errors import (
    BackendConfigurationError,
    IntegrityError,
    InvalidSecretValueError,
    SecretAccessError,
    SecretNotFoundError,
)
from secrets_core.names import validate_name
from secrets_core.plugin import Capability, SecretMetadata, VersionInfo
from secure_secrets_vault.client import VaultClient
from secure_secrets_vault.encoding import Payload, decode
from secure_secrets_vault.errors import Unsettled, status_of
from secure_secrets_vault.plugin import ENVELOPE_CAPABILITIES, NATIVE_CAPABILITIES
from secure_secrets_vault.settings import VaultSettings

log = logging.getLogger("secure_secrets_vault")

KV2_CAPABILITIES = NATIVE_CAPABILITIES  # what the registered `vault` spec declares
KV1_ENVELOPE_CAPABILITIES = frozenset({Capability.LIST, Capability.MULTI_PROCESS})
KV1_CAPABILITIES = frozenset(
    {Capability.LIST, Capability.ENCRYPTS_AT_REST, Capability.MULTI_PROCESS}
)
LIST_WORKERS = 8  # parallel metadata reads while listing a KV v2 mount


def iso_utc(stamp: str) -> str:
    """Vault's RFC 3339 nanosecond time as Python's ISO 8601 (microseconds, +00:00)."""
    if not stamp:
        return ""
    text = stamp.rstrip("Z")
    if "." in text:
        whole, frac = text.split(".", 1)
        text = f"{whole}.{frac[:6].ljust(6, '0')}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return stamp
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _is_deleted(meta: Mapping[str, Any]) -> bool:
    """True when the current version is soft-deleted or destroyed."""
    current = meta.get("current_version") or 0
    info = (meta.get("versions") or {}).get(str(current)) or {}
    return bool(info.get("deletion_time")) or bool(info.get("destroyed"))


class VaultBackend:
    """One KV mount on one Vault/OpenBao server or cluster.

    ``envelope=True`` is the client-side mode (option ``client_side_encryption``, or the
    ``vault-envelope`` backend): the instance does not report ``ENCRYPTS_AT_REST``, so the
    manager hands over ciphertext, stored like any value; ``delete`` destroys every version
    (there is no soft delete, so that key rotation always sees every stored ciphertext).
    """

    def __init__(self, settings: VaultSettings, *, envelope: bool = False) -> None:
        self.settings = settings
        self.envelope = envelope
        self.client = VaultClient(settings)
        self.mount = settings.mount_point
        self._kv_version = settings.kv_version

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, envelope: bool = False) -> VaultBackend:
        """A backend from an option table as in ``[backends.vault]`` (validated like the
        manager does), for use without a manager."""
        from secrets_core.config import resolve_options
        from secure_secrets_vault.options import OPTIONS
        from secure_secrets_vault.settings import settings_from_options

        resolved: Any = None
        try:
            resolved = resolve_options(OPTIONS, options, "[backends.vault]")
            envelope = envelope or bool(resolved.get("client_side_encryption"))
            settings = settings_from_options(resolved)
        finally:
            del resolved, options  # an error's traceback locals must not show credentials
        return cls(settings, envelope=envelope)

    def __repr__(self) -> str:
        return f"VaultBackend({self.client.where}, kv_version={self._kv_version})"

    # --- capabilities -------------------------------------------------------------------------

    @property
    def kv_version(self) -> int:
        if self._kv_version is None:
            self._kv_version = self._detect_kv_version()
        return self._kv_version

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this instance really supports (the mount's KV version decides)."""
        if self.envelope:
            return ENVELOPE_CAPABILITIES if self.kv_version == 2 else KV1_ENVELOPE_CAPABILITIES
        return KV2_CAPABILITIES if self.kv_version == 2 else KV1_CAPABILITIES

    def _detect_kv_version(self) -> int:
        mount = self.mount

        def preflight(c: hvac.Client) -> Any:
            try:
                return c.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
            except hvac.exceptions.VaultError as exc:
                if status_of(exc) not in (400, 403, 404):
                    raise
            # Denied: a token that cannot even look itself up is invalid (AccessDeniedError);
            # a valid one simply may not see this mount.
            c.auth.token.lookup_self()
            return None

        answer = self.client.call(preflight, "detect the KV version")
        data = (answer or {}).get("data") if isinstance(answer, Mapping) else None
        if not data:
            raise BackendConfigurationError(
                f"vault: cannot detect the KV version of mount '{mount}' at "
                f"{self.client.where}: the mount does not exist or the token may not see it; "
                "check mount_point, or set kv_version = 1 or 2"
            )
        if data.get("type") not in ("kv", "generic"):
            raise BackendConfigurationError(
                f"vault: mount '{mount}' is a '{data.get('type')}' engine, not KV"
            )
        version = str((data.get("options") or {}).get("version") or "1")
        log.debug("vault: mount %s is KV v%s", mount, version)
        return 2 if version == "2" else 1

    def _need_v2(self, what: str) -> None:
        if self.kv_version != 2:
            raise BackendConfigurationError(
                f"vault: mount '{self.mount}' is KV version 1, which has no {what}; use a KV "
                "version 2 mount (bao secrets enable -version=2 kv) for it"
            )

    def _path(self, kind: str, name: str) -> str:
        if self.kv_version == 2:
            return f"/v1/{self.mount}/{kind}/{name}"
        return f"/v1/{self.mount}/{name}"

    # --- StorageBackend -----------------------------------------------------------------------

    def read(self, name: str) -> bytes | str:
        path = self._path("data", name)
        # No local of this frame holds the stored data (tracebacks keep frame locals).
        return self._value_of(self.client.call(lambda c: c.adapter.get(path), "read", name), name)

    def _value_of(self, response: Any, name: str) -> bytes | str:
        """The value in a read's response. A corrupt value raises IntegrityError from a frame
        whose locals no longer hold it."""
        data = (response or {}).get("data")
        del response
        if self.kv_version == 2:
            data = (data or {}).get("data")
        if data is None:
            raise SecretNotFoundError(f"vault: no secret '{name}' at {self.client.where}")
        message = ""
        try:
            return decode(data, name)
        except IntegrityError as exc:
            message = str(exc)
        del data
        raise IntegrityError(message)

    def write(self, name: str, value: bytes | str, *, cas: int | None = None) -> int | None:
        """Store ``value``. With ``cas`` (KV v2) the write succeeds only if the secret's
        current version is ``cas`` (0: only if it does not exist), else
        :class:`~secrets_core.errors.ConflictError`. Returns the new version
        (KV v2) or None (KV v1)."""
        payload = Payload(value)
        del value  # the payload's repr is masked; the raw value must not sit in this frame
        if cas is not None:
            self._need_v2("check-and-set")
            if isinstance(cas, bool) or not isinstance(cas, int) or cas < 0:
                raise InvalidSecretValueError("vault: cas must be a version number >= 0")
        path = self._path("data", name)
        if self.kv_version == 2:
            if cas is not None:
                response = self.client.call(
                    lambda c: c.adapter.post(path, json=payload.kv2_body(cas)), "write", name
                )
            else:
                response = self._write_once(name, payload)
            return int(response["data"]["version"])
        self.client.call(lambda c: c.adapter.post(path, json=payload.data), "write", name)
        return None

    def _write_once(self, name: str, payload: Payload) -> Any:
        """A plain (non-CAS) KV v2 write that is not repeated when an attempt whose answer
        was lost did land: before retrying such an attempt, the current version is read back;
        if it holds this payload, that version is the result, else the retry is guarded with
        check-and-set on the version just read (so a late landing of the lost attempt and the
        retry cannot both create a version)."""
        path = self._path("data", name)
        meta_path = self._path("metadata", name)
        guard: list[int | None] = [None]

        def post(c: hvac.Client) -> Any:
            try:
                return c.adapter.post(path, json=payload.kv2_body(guard[0]))
            except hvac.exceptions.InvalidRequest as exc:
                if guard[0] is not None and "check-and-set" in str(exc.errors).lower():
                    raise Unsettled() from None  # changed since settled: settle again
                raise

        def settle(c: hvac.Client) -> Any:
            try:
                current = c.adapter.get(path)["data"]
            except hvac.exceptions.InvalidPath:  # never written, or current version deleted
                try:
                    meta = c.adapter.get(meta_path)["data"]
                except hvac.exceptions.InvalidPath:
                    guard[0] = 0
                    return None
                guard[0] = int(meta.get("current_version") or 0)
                return None
            version = int(current["metadata"]["version"])
            if current.get("data") == payload.data:
                log.debug("vault: a lost write of %s had landed as version %d", name, version)
                return {"data": {"version": version}}
            guard[0] = version
            return None

        return self.client.call(post, "write", name, settle=settle)

    def delete(self, name: str) -> None:
        """KV v2: a soft delete of the current version (undone by :meth:`restore`); in the
        client-side mode, and on KV v1, the secret is removed for good."""
        if self.kv_version == 1:
            self.read(name)  # raises SecretNotFoundError
            self.client.call(lambda c: c.adapter.delete(self._path("", name)), "delete", name)
            return
        meta = self._metadata(name)
        if _is_deleted(meta):
            raise SecretNotFoundError(f"vault: no secret '{name}' at {self.client.where}")
        if self.envelope:
            self._destroy_all(name)
            return
        path = self._path("data", name)
        self.client.call(lambda c: c.adapter.delete(path), "delete", name)

    def list_names(self, prefix: str = "") -> list[str]:
        names = self._walk(prefix)
        if self.kv_version == 1:
            return names
        metas = self._metadata_of(names)
        return [n for n in names if (meta := metas[n]) is not None and not _is_deleted(meta)]

    def close(self) -> None:
        self.client.close()

    # --- VersionedBackend ---------------------------------------------------------------------

    def read_version(self, name: str, version: int) -> bytes | str:
        self._need_v2("versions")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidSecretValueError("vault: version must be an integer >= 1")
        path = self._path("data", name)

        def get(c: hvac.Client) -> Any:
            try:
                return c.adapter.get(path, params={"version": version})
            except hvac.exceptions.InvalidPath:
                return None

        try:
            return self._value_of(self.client.call(get, "read", name), name)
        except SecretNotFoundError:
            pass
        raise SecretNotFoundError(
            f"vault: secret '{name}' has no readable version {version} at "
            f"{self.client.where} (never written, deleted or destroyed)"
        )

    def rewrite_versions(self, name: str, transform: Callable[[bytes | str], bytes | str]) -> int:
        """Vault KV versions are immutable, and values stored natively are encrypted by the
        server, so key rotation never needs this (it skips server-encrypted backends)."""
        raise BackendConfigurationError(
            "vault: KV versions cannot be rewritten in place; values stored natively are "
            "encrypted by the server and need no client-side rotation"
        )

    # --- MetadataBackend ----------------------------------------------------------------------

    def _metadata(self, name: str) -> dict[str, Any]:
        self._need_v2("metadata")
        path = self._path("metadata", name)
        return dict(
            self.client.call(lambda c: c.adapter.get(path), "read metadata of", name)["data"]
        )

    def metadata(self, name: str) -> SecretMetadata:
        meta = self._metadata(name)
        versions = meta.get("versions") or {}
        infos = tuple(
            VersionInfo(int(number), iso_utc(info.get("created_time", "")))
            for number, info in sorted(versions.items(), key=lambda item: int(item[0]))
            if not info.get("destroyed")
        )
        custom = meta.get("custom_metadata") or {}
        return SecretMetadata(
            name=name,
            created=iso_utc(meta.get("created_time", "")),
            updated=iso_utc(meta.get("updated_time", "")),
            current_version=int(meta.get("current_version") or 0),
            versions=infos,
            custom={str(k): str(v) for k, v in custom.items()},
            deleted=_is_deleted(meta),
        )

    def set_custom_metadata(self, name: str, custom: Mapping[str, str]) -> None:
        """Replace the secret's custom metadata (Vault: up to 64 keys, 128-byte keys,
        512-byte values). The secret must exist."""
        self._metadata(name)  # raises SecretNotFoundError
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in custom.items()):
            raise InvalidSecretValueError("vault: custom metadata keys and values must be str")
        path = self._path("metadata", name)
        body = {"custom_metadata": dict(custom)}

        def post(c: hvac.Client) -> Any:
            return c.adapter.post(path, json=body)

        try:
            self.client.call(post, "set metadata of", name)
        except SecretAccessError as exc:
            if type(exc) is SecretAccessError:  # HTTP 400: Vault's limits
                raise InvalidSecretValueError(
                    f"vault: custom metadata of '{name}' was refused: at most 64 keys, keys up "
                    "to 128 bytes, values up to 512 bytes"
                ) from None
            raise

    # --- SoftDeleteBackend --------------------------------------------------------------------

    def restore(self, name: str) -> None:
        self._need_v2("soft delete")
        meta = self._metadata(name)
        current = int(meta.get("current_version") or 0)
        info = (meta.get("versions") or {}).get(str(current)) or {}
        if info.get("destroyed"):
            raise SecretNotFoundError(
                f"vault: secret '{name}' was destroyed and cannot be restored"
            )
        if not info.get("deletion_time"):
            return  # not deleted: nothing to undo
        path = f"/v1/{self.mount}/undelete/{name}"
        self.client.call(
            lambda c: c.adapter.post(path, json={"versions": [current]}), "restore", name
        )

    def purge(self, name: str) -> None:
        if self.kv_version == 1:
            self.delete(name)
            return
        self._metadata(name)  # raises SecretNotFoundError
        self._destroy_all(name)

    def _destroy_all(self, name: str) -> None:
        path = self._path("metadata", name)
        self.client.call(lambda c: c.adapter.delete(path), "destroy", name)

    def list_deleted(self, prefix: str = "") -> list[str]:
        if self.kv_version == 1:
            return []
        names = self._walk(prefix)
        metas = self._metadata_of(names)
        return [
            n
            for n in names
            if (meta := metas[n]) is not None and _is_deleted(meta) and not self._destroyed(meta)
        ]

    # --- check-and-set ------------------------------------------------------------------------

    def current_version(self, name: str) -> int:
        """The current version number (KV v2), for a later ``write(..., cas=N)``."""
        return int(self._metadata(name).get("current_version") or 0)

    # --- listing ------------------------------------------------------------------------------

    @staticmethod
    def _destroyed(meta: Mapping[str, Any]) -> bool:
        current = meta.get("current_version") or 0
        return bool(((meta.get("versions") or {}).get(str(current)) or {}).get("destroyed"))

    def _metadata_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self._metadata(name)
        except SecretNotFoundError:
            return None

    def _metadata_of(self, names: list[str]) -> dict[str, dict[str, Any] | None]:
        """Metadata of many secrets (None: gone meanwhile), fetched over a few parallel
        keep-alive connections: a listing must know which secrets are soft-deleted."""
        if len(names) < 4:
            return {n: self._metadata_or_none(n) for n in names}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(LIST_WORKERS, len(names))) as pool:
            return dict(zip(names, pool.map(self._metadata_or_none, names), strict=True))

    def _list_folder(self, folder: str) -> list[str]:
        path = self._path("metadata", folder) if folder else (
            f"/v1/{self.mount}/metadata" if self.kv_version == 2 else f"/v1/{self.mount}"
        )  # fmt: skip

        def listing(c: hvac.Client) -> Any:
            try:
                return c.adapter.list(path)
            except hvac.exceptions.InvalidPath:
                return None

        response = self.client.call(listing, "list")
        keys = ((response or {}).get("data") or {}).get("keys") or []
        return [k for k in keys if isinstance(k, str)]

    def _walk(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (names starting with it), across sub-folders."""
        head, slash, partial = prefix.rpartition("/")
        start = f"{head}/" if slash else ""
        if start:
            validate_name(head)  # never build a path from an unchecked prefix
        names: list[str] = []
        stack = [(start, partial)]
        while stack:
            folder, match = stack.pop()
            for key in self._list_folder(folder):
                if not key.startswith(match):
                    continue
                if key.endswith("/"):
                    stack.append((folder + key, ""))
                else:
                    names.append(folder + key)
        return sorted(names)
