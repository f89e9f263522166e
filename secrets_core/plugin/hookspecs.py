"""Hook specifications of the ``secrets_core`` plugin system.

Every hook here is a *registration* hook: it takes no arguments and returns a list of typed
descriptors (see :mod:`secrets_core.plugin`). The core calls each plugin's
implementation once per process, when discovery first runs, records which distribution
supplied which name, and later calls the chosen descriptor's ``factory`` directly. No secret
value or key ever passes through a hook call.

A plugin is a module (or object) with functions marked by :data:`secrets_core.hookimpl`,
published under the entry-point group ``secrets_core``::

    [project.entry-points.secrets_core]
    mybackend = "my_package.plugin"

Keep that module light: import heavy dependencies inside the factory, not at module level.
"""

from __future__ import annotations

import pluggy

from secrets_core.plugin._api import (
    AuditSinkSpec,
    BackendSpec,
    CipherSpec,
    CommandSpec,
    KdfSpec,
    KeySourceSpec,
)
from secrets_core.plugin._marker import PROJECT_NAME

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --- storage backends ------------------------------------------------------------------------


@hookspec
def secrets_register_backends() -> list[BackendSpec]:
    """Register storage backends.

    Return one :class:`~secrets_core.plugin.BackendSpec` per backend. ``factory`` is
    called with the validated ``[backends.NAME]`` option table and a
    :class:`~secrets_core.plugin.PluginContext`, and returns an object implementing
    :class:`~secrets_core.plugin.StorageBackend`. Declare ``capabilities`` honestly: the
    manager and the conformance kit rely on them.

    Example::

        from secrets_core import hookimpl
        from secrets_core.plugin import BackendSpec, Capability, ConfigOption

        def _make_backend(options, context):
            from my_package.backend import MyBackend  # heavy imports here, not at the top
            return MyBackend(root=options["root"] or context.data_dir / "mine")

        @hookimpl
        def secrets_register_backends():
            return [BackendSpec(
                name="mine",
                factory=_make_backend,
                capabilities=frozenset({Capability.LIST}),
                options={"root": ConfigOption(str, help="where to keep secrets")},
            )]
    """
    raise NotImplementedError


# --- encryption ------------------------------------------------------------------------------


@hookspec
def secrets_register_ciphers() -> list[CipherSpec]:
    """Register ciphers used for client-side envelope encryption and for wrapping data keys.

    ``factory(key)`` receives ``key_size`` random bytes and returns a
    :class:`~secrets_core.plugin.Cipher`. Tampered, truncated or foreign tokens must
    raise :class:`~secrets_core.errors.IntegrityError`; never let a library exception escape.

    Example::

        from secrets_core import hookimpl
        from secrets_core.plugin import CipherSpec

        def _make_cipher(key: bytes):
            from my_package.aead import MyAead
            return MyAead(key)

        @hookimpl
        def secrets_register_ciphers():
            return [CipherSpec(name="my-aead", factory=_make_cipher, key_size=32)]
    """
    raise NotImplementedError


# --- key derivation and key sources ----------------------------------------------------------


@hookspec
def secrets_register_kdfs() -> list[KdfSpec]:
    """Register key-derivation functions for passphrase-based key sources.

    ``factory(params)`` must validate ``params`` against the OWASP floors *and* against
    ceilings before deriving anything (stored parameters are attacker-controlled), raising
    :class:`~secrets_core.errors.ConfigError`. An empty mapping asks for safe defaults.

    Example::

        import hashlib
        from secrets_core import hookimpl
        from secrets_core.plugin import KdfSpec
        from secrets_core.errors import ConfigError

        class Pbkdf2:
            def __init__(self, params):
                iterations = int(params.get("iterations", 600_000))
                if not 600_000 <= iterations <= 10_000_000:
                    raise ConfigError("kdf.iterations must be between 600000 and 10000000")
                self.params = {"iterations": iterations}

            def derive(self, passphrase, salt, length):
                return hashlib.pbkdf2_hmac(
                    "sha256", passphrase, salt, self.params["iterations"], length)

        @hookimpl
        def secrets_register_kdfs():
            return [KdfSpec(name="my-pbkdf2", factory=Pbkdf2)]
    """
    raise NotImplementedError


@hookspec
def secrets_register_key_sources() -> list[KeySourceSpec]:
    """Register sources of the key-encryption key (KEK).

    ``factory(options, context)`` returns a :class:`~secrets_core.plugin.KeySource`.
    ``create_kek(length)`` runs once when a keyring is created and returns the KEK and public
    parameters to store; ``load_kek(params, length)`` returns the same KEK on every unlock or
    raises :class:`~secrets_core.errors.KeyNotAvailableError` with what to do.

    Example::

        import base64, os
        from secrets_core import hookimpl
        from secrets_core.plugin import ConfigOption, KeySourceSpec
        from secrets_core.errors import KeyNotAvailableError

        class EnvKek:
            def __init__(self, options, context):
                self.var = options["variable"]

            def create_kek(self, length):
                return self.load_kek({}, length), {}

            def load_kek(self, params, length):
                encoded = os.environ.get(self.var)
                if not encoded:
                    raise KeyNotAvailableError(f"set {self.var} to a base64 key")
                return base64.b64decode(encoded)

        @hookimpl
        def secrets_register_key_sources():
            return [KeySourceSpec(name="my-env", factory=EnvKek,
                                  options={"variable": ConfigOption(str, default="MY_KEK")})]
    """
    raise NotImplementedError


# --- audit sinks -----------------------------------------------------------------------------


@hookspec
def secrets_register_audit_sinks() -> list[AuditSinkSpec]:
    """Register audit sinks.

    ``factory(options, context)`` returns an :class:`~secrets_core.plugin.AuditSink`
    whose ``emit(event)`` records one :class:`~secrets_core.audit.AuditEvent`. Raise on
    failure: the core decides, per the sink's ``required`` option, whether the operation
    fails closed or the failure is only logged.

    Example::

        import sys
        from secrets_core import hookimpl
        from secrets_core.plugin import AuditSinkSpec

        class StderrSink:
            def __init__(self, options, context):
                pass

            def emit(self, event):
                print(event.to_json(), file=sys.stderr)

            def close(self):
                pass

        @hookimpl
        def secrets_register_audit_sinks():
            return [AuditSinkSpec(name="stderr", factory=StderrSink)]
    """
    raise NotImplementedError


# --- command-line verbs ----------------------------------------------------------------------


@hookspec
def secrets_register_commands() -> list[CommandSpec]:
    """Register verbs of the ``secure-secrets`` command line.

    Return one :class:`~secrets_core.plugin.CommandSpec` per verb. ``command`` is the
    ``"module:attr"`` path of a click command, imported only when the verb runs; ``help`` is
    the line ``secure-secrets --help`` shows. Inside the command,
    ``secrets_core.cli.state.get_state()`` gives the global options and the manager. A verb
    named like a core verb is reported and never runs.

    Example::

        from secrets_core import hookimpl
        from secrets_core.plugin import CommandSpec

        @hookimpl
        def secrets_register_commands():
            return [CommandSpec(name="hello", command="my_package.cli:hello_cmd",
                                help="Say hello from my plugin.")]
    """
    raise NotImplementedError


__all__ = ["PROJECT_NAME", "hookspec"]
