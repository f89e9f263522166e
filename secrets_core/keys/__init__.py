"""Keys: data keys in the keyring, the key sources that protect them, and the envelope format.

:class:`KeyManager` holds the keyring (random data keys with ids, wrapped by a key-encryption
key from a key source); :mod:`secrets_core.keys.envelope` seals and opens one value.
"""

from secrets_core.keys._datakeys import KeyManager
from secrets_core.keys._sources import (
    ENV_OPTIONS,
    KEYFILE_OPTIONS,
    PASSPHRASE_OPTIONS,
    EnvKeySource,
    KeyfileSource,
    PassphraseSource,
)

__all__ = [
    "ENV_OPTIONS",
    "KEYFILE_OPTIONS",
    "PASSPHRASE_OPTIONS",
    "EnvKeySource",
    "KeyManager",
    "KeyfileSource",
    "PassphraseSource",
]
