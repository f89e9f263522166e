"""The exit codes and the error line, without importing click (the fast `get` path uses
this module alone). The table is the one in docs/cli.md."""

from __future__ import annotations

OK = 0
FAILURE = 1
USAGE = 2
NOT_FOUND = 3
ACCESS_DENIED = 4
CONFIG = 5
INTEGRITY = 6
UNAVAILABLE = 7
REFERENCE = 8
AUDIT_KEYLESS = 10  # `audit verify`: the chain verifies, some events were written without the key
AUDIT_NOT_TAMPER_EVIDENT = 11  # `audit verify`: no audit key, nothing authenticates the log
INTERRUPTED = 130  # Ctrl-C (SIGINT), as a shell reports it: 128 + 2

#: The exit-code table at the end of ``secure-secrets --help`` (the one in docs/cli.md).
EXIT_CODES_HELP = """\b
Exit codes:
  0    success
  1    other error; doctor found a problem
  2    usage error (bad option or argument, invalid name or value)
  3    not found (secret, version, nothing to restore)
  4    access denied
  5    configuration error (config, plugin missing or failing)
  6    integrity or key error (tampered data, wrong or missing key)
  7    unavailable (server down or sealed, lock timeout)
  8    run: a secret reference could not be resolved (command not started)
  10   audit verify: events written without the audit key (the chain verifies)
  11   audit verify: the log is not tamper-evident (the store has no audit key)
  130  interrupted (Ctrl-C)
  run: the command's own status; 126 not executable, 127 not found, 128+N killed by signal N"""

#: (error class name, exit code, what to do next), most specific first. Names, not classes,
#: so that this module does not import the library.
_TABLE: tuple[tuple[str, int, str], ...] = (
    ("UnresolvedReferencesError", REFERENCE, "see docs/references.md"),
    ("SecretNotFoundError", NOT_FOUND, "list the names with: secure-secrets list"),
    ("AccessDeniedError", ACCESS_DENIED, "check the backend's credentials and policy"),
    ("BackendUnavailableError", UNAVAILABLE, "retry later; see: secure-secrets doctor"),
    ("InvalidSecretNameError", USAGE, ""),
    ("InvalidSecretValueError", USAGE, ""),
    ("SecretTooLargeError", USAGE, ""),
    ("EncryptionError", INTEGRITY, "see: secure-secrets doctor"),
    ("EnvFileError", CONFIG, ""),  # a malformed .env line: the message says which to fix
    ("PluginNotFoundError", CONFIG, ""),  # the message names the distribution to install
    ("ConfigError", CONFIG, "see: secure-secrets config validate"),
    ("PluginError", CONFIG, "see: secure-secrets plugins"),
)


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the "what to do next" hint for a library error."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, code, hint in _TABLE:
        if name in names:
            return code, hint
    return FAILURE, ""


def error_line(message: str, hint: str = "") -> str:
    """``error: <message> (<hint>)``, the one line an error prints on stderr."""
    from secrets_core.cli.output import visible

    message = visible(message.rstrip("."))
    if hint and hint not in message:
        message += f" ({hint})"
    return f"error: {message}"


def describe_unexpected(exc: BaseException) -> str:
    """The message for an error that is not the library's: the OS reason, or the type."""
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    return f"unexpected {type(exc).__name__}; rerun with -v for a traceback"
