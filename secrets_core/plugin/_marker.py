"""The :data:`hookimpl` marker plugins decorate their registration functions with.

It is deliberately not pluggy's ``HookimplMarker``: importing pluggy (and, through it,
:mod:`inspect`) costs a CLI start ~15 ms, and a process that finds its plugins in the plugin
index (:mod:`secrets_core.plugin._index`) calls a plugin's registration function directly.
The marker records pluggy's hookimpl options on the function under its own attribute, and the
registry's ``PluginManager`` reads them back (``parse_hookimpl_opts``, pluggy's documented
extension point), so full discovery validates every plugin with pluggy as before. Functions
marked with ``pluggy.HookimplMarker("secrets_core")`` work too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

PROJECT_NAME = "secrets_core"
IMPL_ATTRIBUTE = "secrets_core_hookimpl"
PLUGGY_IMPL_ATTRIBUTE = PROJECT_NAME + "_impl"  # where pluggy's own marker puts them

F = TypeVar("F", bound=Callable[..., Any])


class HookimplMarker:
    """``@hookimpl`` or ``@hookimpl(tryfirst=True, ...)``, with pluggy's options."""

    @overload
    def __call__(self, function: F) -> F: ...

    @overload
    def __call__(
        self,
        function: None = None,
        *,
        tryfirst: bool = False,
        trylast: bool = False,
        optionalhook: bool = False,
        specname: str | None = None,
    ) -> Callable[[F], F]: ...

    def __call__(
        self,
        function: F | None = None,
        *,
        tryfirst: bool = False,
        trylast: bool = False,
        optionalhook: bool = False,
        specname: str | None = None,
    ) -> F | Callable[[F], F]:
        options = {
            "tryfirst": tryfirst,
            "trylast": trylast,
            "optionalhook": optionalhook,
            "specname": specname,
        }

        def mark(func: F) -> F:
            setattr(func, IMPL_ATTRIBUTE, dict(options))
            return func

        return mark if function is None else mark(function)


hookimpl = HookimplMarker()


def is_marked(function: object) -> bool:
    """Whether ``function`` carries this marker or pluggy's own for ``secrets_core``."""
    return isinstance(getattr(function, IMPL_ATTRIBUTE, None), dict) or isinstance(
        getattr(function, PLUGGY_IMPL_ATTRIBUTE, None), dict
    )
