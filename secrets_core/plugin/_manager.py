"""pluggy's plugin manager for the ``secrets_core`` hooks."""

from typing import cast

import pluggy

from secrets_core.plugin import hookspecs
from secrets_core.plugin._marker import IMPL_ATTRIBUTE, PROJECT_NAME


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, also picking up functions marked by :data:`hookimpl` (which records
    pluggy's options without importing pluggy; see :mod:`secrets_core.plugin`)."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        options = super().parse_hookimpl_opts(plugin, name)  # pluggy's own marker
        marked = getattr(getattr(plugin, name, None), IMPL_ATTRIBUTE, None)
        if options is None and isinstance(marked, dict):
            options = cast(pluggy.HookimplOpts, dict(marked))  # pluggy fills the defaults
        return options
