"""secrets_core: the plugin framework behind secure-secrets.

Plugin authors need :data:`hookimpl`, the descriptors in :mod:`secrets_core.plugin`, the
errors in :mod:`secrets_core.errors` and the conformance kit in :mod:`secrets_core.testing`.
Applications use the facade package :mod:`secure_secrets` instead.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secrets_core.plugin._marker import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    """``hookimpl`` on first use (PEP 562): importing a submodule, as the CLI's entry point
    does, does not load the plugin package before the CLI has set up its process."""
    if name == "hookimpl":
        from secrets_core.plugin._marker import hookimpl

        return hookimpl
    raise AttributeError(f"module 'secrets_core' has no attribute {name!r}")
