"""What ``-v``/``-vv`` show: the project's and its plugins' log records only.

A dependency's debug output can carry what we never print ourselves (an HTTP client's
response bodies: a KMS data key, a Vault token), so third-party records below WARNING are
dropped unless ``--log-all-libraries`` asks for them, with a warning.
"""

from __future__ import annotations

import logging

#: Logger name prefixes that are ours: the core, the facade and plugin distributions
#: (``secure_secrets_vault``, ``secure_secrets_file``, ...).
PROJECT_LOGGERS = ("secrets_core", "secure_secrets")


class ProjectOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith(PROJECT_LOGGERS) or record.levelno >= logging.WARNING


def configure(verbosity: int, all_libraries: bool = False) -> None:
    """Log to stderr at INFO (``-v``) or DEBUG (``-vv``), ours only unless ``all_libraries``."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not all_libraries:
        handler.addFilter(ProjectOnly())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    if all_libraries:
        logging.getLogger("secrets_core").warning(
            "--log-all-libraries: third-party debug output can include request and response "
            "bodies (tokens, keys, values); do not share this output"
        )
