"""The opt-in secret vault: raw credentials a responder chose to keep for revocation, encrypted.

It lives beside the case (``CASE.vault``, mode 0600), never inside it, and is encrypted with
Fernet under a key the operator holds (``IR_CONSOLE_VAULT_KEY``), so neither the case file nor
the vault alone gives a secret away. A secret is accepted only when its keyed fingerprint is the
credential's, so the vault cannot hold the wrong key for a credential.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from discovery.case.store import Store
from discovery.views.queries import credential_fingerprint
from runbooks.errors import RunbookUsageError

ENV_KEY = "IR_CONSOLE_VAULT_KEY"


def vault_path(case_path: Path) -> Path:
    """The vault file that belongs to a case file."""
    return case_path.with_name(case_path.name + ".vault")


def new_key() -> str:
    """A fresh vault key (for the operator to keep, e.g. in a password manager)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class SecretVault:
    """Fernet-encrypted ``{credential id: secret}`` beside one case."""

    def __init__(self, store: Store, key: str) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key.encode())
        except ValueError:
            raise RunbookUsageError(
                f"${ENV_KEY} is not a vault key (32 url-safe base64 bytes; "
                "make one with `ir-console runbook vault key`)"
            ) from None
        self.store = store
        self.path = vault_path(store.path)

    @classmethod
    def from_env(cls, store: Store) -> SecretVault | None:
        """The vault when the operator set ``IR_CONSOLE_VAULT_KEY``, else None."""
        key = os.environ.get(ENV_KEY)
        return cls(store, key) if key else None

    def _entries(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RunbookUsageError(f"{self.path}: unreadable vault ({exc})") from None
        if not isinstance(data, dict):
            raise RunbookUsageError(f"{self.path}: not a vault")
        return {str(k): str(v) for k, v in data.items()}

    def put(self, credential_id: str, secret: str) -> None:
        """Keep ``secret`` for a credential of the case (its fingerprint must match)."""
        fingerprint = credential_fingerprint(self.store, credential_id)
        if fingerprint is None:
            raise RunbookUsageError(f"no credential {credential_id!r} in this case")
        if self.store.fingerprint(secret) != fingerprint:
            raise RunbookUsageError(
                f"that secret is not credential {credential_id} (its fingerprint differs)"
            )
        entries = self._entries()
        entries[credential_id] = self._fernet.encrypt(secret.encode()).decode()
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, sort_keys=True)
        os.replace(tmp, self.path)

    def get(self, credential_id: str) -> str | None:
        """The kept secret of a credential, or None."""
        from cryptography.fernet import InvalidToken

        token = self._entries().get(credential_id)
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise RunbookUsageError(
                f"{self.path}: the entry for {credential_id} does not open with "
                f"${ENV_KEY} (wrong key?)"
            ) from None

    def credentials(self) -> list[str]:
        """The credential ids with a kept secret (no decryption needed)."""
        return sorted(self._entries())
