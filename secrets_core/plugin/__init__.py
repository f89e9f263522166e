"""The plugin API: what a plugin imports, and the registry the core looks plugins up in.

Plugin authors need :data:`hookimpl`, the descriptors and protocols below, the errors in
:mod:`secrets_core.errors` and the conformance kit in :mod:`secrets_core.testing`. The hook
specifications are in :mod:`secrets_core.plugin.hookspecs`. Everything else in this package
is private (modules named ``_*``).
"""

from secrets_core.plugin._api import (
    NO_OPTIONS,
    AuditSink,
    AuditSinkSpec,
    BackendSpec,
    Capability,
    CasBackend,
    Cipher,
    CipherSpec,
    CommandSpec,
    ConfigOption,
    DotenvBackend,
    DynamicCredentials,
    Kdf,
    KdfSpec,
    KeySource,
    KeySourceSpec,
    MetadataBackend,
    PluginContext,
    RecordKey,
    RewrappingCipher,
    SecretMetadata,
    SoftDeleteBackend,
    StorageBackend,
    VersionedBackend,
    VersionInfo,
)
from secrets_core.plugin._marker import hookimpl
from secrets_core.plugin._registry import (
    CORE_DISTRIBUTION,
    ENTRY_POINT_GROUP,
    PluginInfo,
    PluginPolicy,
    PluginRegistry,
    get_registry,
    reset_registry,
)

__all__ = [
    "CORE_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "NO_OPTIONS",
    "AuditSink",
    "AuditSinkSpec",
    "BackendSpec",
    "Capability",
    "CasBackend",
    "Cipher",
    "CipherSpec",
    "CommandSpec",
    "ConfigOption",
    "DotenvBackend",
    "DynamicCredentials",
    "Kdf",
    "KdfSpec",
    "KeySource",
    "KeySourceSpec",
    "MetadataBackend",
    "PluginContext",
    "PluginInfo",
    "PluginPolicy",
    "PluginRegistry",
    "RecordKey",
    "RewrappingCipher",
    "SecretMetadata",
    "SoftDeleteBackend",
    "StorageBackend",
    "VersionInfo",
    "VersionedBackend",
    "get_registry",
    "hookimpl",
    "reset_registry",
]
