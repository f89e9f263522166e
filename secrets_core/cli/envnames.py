"""How ``run`` and ``export --format dotenv`` name the environment variable of a secret.

The name (minus the ``--prefix`` and any '/' right after it) is upper-cased and every
character other than A-Z, 0-9 becomes '_'; a leading digit gets a '_' in front:
``db/password`` -> ``DB_PASSWORD``, ``api-key.v2`` -> ``API_KEY_V2``. Two secrets that map
to the same variable are an error naming both, never a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable

from secrets_core.cli.errors import USAGE, CliError


def variable_name(name: str, prefix: str = "") -> str:
    """The environment variable for secret ``name``: the library's rule
    (:func:`secrets_core.child_env.child_variable_name`), with its error as a usage error."""
    from secrets_core.child_env import child_variable_name
    from secrets_core.errors import ConfigError

    try:
        return child_variable_name(name, prefix)
    except ConfigError as exc:
        raise CliError(f"{exc} (--prefix)", USAGE) from None


def variable_map(names: Iterable[str], prefix: str = "") -> dict[str, str]:
    """``{variable: secret name}``; raises a usage error on a collision."""
    mapping: dict[str, str] = {}
    for name in names:
        variable = variable_name(name, prefix)
        if variable in mapping:
            raise CliError(
                f"secrets '{mapping[variable]}' and '{name}' both map to ${variable}; "
                "select one with --only, or rename one",
                USAGE,
            )
        mapping[variable] = name
    return mapping
