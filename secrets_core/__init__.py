"""secrets_core: the plugin framework behind secure-secrets.

Plugin authors need :data:`hookimpl`, the descriptors in :mod:`secrets_core.plugin`, the
errors in :mod:`secrets_core.errors` and the conformance kit in :mod:`secrets_core.testing`.
Applications use the facade package :mod:`secure_secrets` instead.
"""

from secrets_core.plugin._marker import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
