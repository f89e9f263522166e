"""The main job on the zero-config default: the local encrypted file backend with Fernet.

Stores, retrieves, rotates and deletes a demo secret and prints every audit event each step
wrote (read back from the audit log, whose path it prints first). Run it with
``.venv/bin/python docs/examples/quickstart.py`` after the README's install command.
"""

from __future__ import annotations

import json

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import SecretNotFoundError


def main() -> None:
    manager = SecureSecretsManager()  # local encrypted files, zero config
    log = manager.audit_log_path
    print(f"backend   {manager.default_backend} (data in {manager.settings.data_dir})")
    print(f"audit log {log} (one JSON line per event, never a value)")
    seen = len(log.read_text().splitlines()) if log.exists() else 0

    def events() -> None:
        """Print the events written since the last call."""
        nonlocal seen
        lines = log.read_text().splitlines()
        for line in lines[seen:]:
            event = json.loads(line)
            error = f" ({event['error_type']})" if event["error_type"] else ""
            name = event["secret_name"] or "-"
            print(f"  event   {event['operation']:<9} {name:<16} {event['outcome']}{error}")
        seen = len(lines)

    manager.store_secret("bluefin_api_key", "demo-value-not-a-real-key")
    print("stored    bluefin_api_key")
    events()
    value = manager.retrieve_secret("bluefin_api_key")
    print(f"retrieved {len(value)} characters, matches: {value == 'demo-value-not-a-real-key'}")
    events()
    manager.rotate_encryption_key()
    print("rotated   the data key; every stored value re-encrypted under the new one")
    events()
    manager.delete_secret("bluefin_api_key")
    print("deleted   bluefin_api_key")
    events()
    try:
        manager.retrieve_secret("bluefin_api_key")
    except SecretNotFoundError:
        print("gone      retrieve after delete raises SecretNotFoundError")
    events()
    manager.close()


if __name__ == "__main__":
    main()
