"""Checks across configuration profiles (used by ``secure-secrets doctor``)."""

from __future__ import annotations

import os
from itertools import combinations
from pathlib import Path

from secrets_core.config._settings import Settings, load_settings


def key_identity(settings: Settings) -> set[str]:
    """What a profile's key material is bound to: its keyring, and the key file, variable or
    passphrase variable its key source reads."""
    options = settings.key_source_options
    identity = {f"keyring {settings.data_dir / 'keyring.json'}"}
    if settings.key_source == "keyfile":
        identity.add(f"key file {Path(options.get('path') or settings.data_dir / 'master.key')}")
    elif settings.key_source == "env":
        identity.add(f"variable {options.get('variable') or 'SECURE_SECRETS_KEK'}")
    elif settings.key_source == "passphrase":
        identity.add(f"variable {options.get('variable') or 'SECURE_SECRETS_PASSPHRASE'}")
    return identity


def shared_keys(config_path: str | os.PathLike[str] | None = None) -> list[str]:
    """One finding per pair of profiles whose key material is the same (so one environment's
    key would decrypt the other's secrets)."""
    names = load_settings(config_path=config_path).profiles
    identities = {
        name: key_identity(load_settings(config_path=config_path, profile=name)) for name in names
    }
    findings = []
    for first, second in combinations(names, 2):
        for shared in sorted(identities[first] & identities[second]):
            findings.append(
                f"profiles '{first}' and '{second}' share {shared}; give each profile its own "
                "data_dir and key source settings"
            )
    return findings
