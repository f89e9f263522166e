"""The fast path for the most frequent call, ``secure-secrets [--backend B] [--config F]
[--profile P] [-q] get NAME``: the same result, exit code and error line as the click verb, without
importing click. Anything else (another verb, any other option, -v, --json, --version,
completion) returns None and goes through click."""

from __future__ import annotations

import os
import sys

_OPTIONS = ("--backend", "--config", "--profile")


def parse_get(argv: list[str]) -> tuple[str | None, str | None, str | None, str] | None:
    """``(backend, config, profile, name)`` if ``argv`` is a plain get, else None."""
    given: dict[str, str | None] = dict.fromkeys(_OPTIONS)
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in _OPTIONS and index + 1 < len(argv):
            key, value, index = arg, argv[index + 1], index + 2
        elif arg.startswith(tuple(f"{option}=" for option in _OPTIONS)):
            key, _, value = arg.partition("=")
            index += 1
        elif arg in ("-q", "--quiet"):  # get prints no status line anyway
            index += 1
            continue
        else:
            break
        given[key] = value if key == "--config" else value or None
    rest = argv[index:]
    if len(rest) != 2 or rest[0] != "get" or rest[1].startswith("-"):
        return None
    config = given["--config"]
    if config is not None and (not config or os.path.isdir(config)):
        return None  # let click report the bad --config value
    return given["--backend"], config, given["--profile"], rest[1]


def run_get(backend: str | None, config: str | None, profile: str | None, name: str) -> int:
    # The exit-code table is imported only to report an error: a successful get never needs it.
    from secrets_core.cli.output import emit_value
    from secrets_core.errors import SecretsError

    try:
        from secrets_core.manager import SecretsManager

        # No keyword arguments unless an option was given: they make the manager check
        # their types against its annotations, which a plain ``get`` need not pay for.
        manager = (
            SecretsManager()
            if backend is None and config is None and profile is None
            else SecretsManager(default_backend=backend, config_path=config, profile=profile)
        )
        with manager:
            if sys.stderr is not None and sys.stderr.isatty():  # off a terminal: not imported
                from secrets_core.cli.waiting import watched

                manager = watched(manager, backend)
            value = manager.retrieve_secret(name)
        emit_value(value)
    except SecretsError as exc:
        from secrets_core.cli.exitcodes import classify, error_line

        code, hint = classify(exc)
        print(error_line(str(exc) or type(exc).__name__, hint), file=sys.stderr)
        return code
    except KeyboardInterrupt:
        from secrets_core.cli.exitcodes import INTERRUPTED, error_line

        print(error_line("interrupted"), file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        from secrets_core.cli.exitcodes import FAILURE, describe_unexpected, error_line

        print(error_line(describe_unexpected(exc)), file=sys.stderr)
        return FAILURE
    return 0


def try_fast_path(argv: list[str]) -> int | None:
    """The exit code if ``argv`` was handled here, None to use the click CLI."""
    if "_SECURE_SECRETS_COMPLETE" in os.environ:
        return None
    parsed = parse_get(argv)
    if parsed is None:
        return None
    return run_get(*parsed)
