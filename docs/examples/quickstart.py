"""The main job on the zero-config default: the local encrypted file backend with Fernet.

Stores, retrieves, rotates and deletes a demo secret and prints each audit event. Run it
with ``.venv/bin/python docs/examples/quickstart.py`` after the README's install command.
"""

from __future__ import annotations

import json

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import SecretNotFoundError


def show(label: str, event: object) -> None:
    print(f"{label:<9} {json.dumps(event.to_dict(), sort_keys=True)}")  # type: ignore[attr-defined]


def main() -> None:
    manager = SecureSecretsManager()  # local encrypted files, zero config
    print(f"backend   {manager.default_backend} (data in {manager.settings.data_dir})")

    show("stored", manager.store_secret("bluefin_api_key", "demo-value-not-a-real-key"))
    value = manager.retrieve_secret("bluefin_api_key")
    print(f"retrieved {len(value)} characters, matches: {value == 'demo-value-not-a-real-key'}")
    show("rotated", manager.rotate_encryption_key())
    assert manager.retrieve_secret("bluefin_api_key") == value, "value changed across rotation"
    show("deleted", manager.delete_secret("bluefin_api_key"))
    try:
        manager.retrieve_secret("bluefin_api_key")
    except SecretNotFoundError:
        print("gone      retrieve after delete raises SecretNotFoundError")
    manager.close()


if __name__ == "__main__":
    main()
