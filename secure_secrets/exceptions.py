"""The errors secure-secrets raises (re-exported from :mod:`secrets_core.errors`)."""

from secrets_core.errors import *  # noqa: F403
from secrets_core.errors import __all__  # noqa: F401
