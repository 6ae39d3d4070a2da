"""Encryption at rest of senders' SMTP passwords: Fernet, with keys from the environment.

The keys are listed newest first (OUTREACH_SENDER_SECRET_KEYS): the first encrypts, every one
decrypts, so a new key is rolled out by prepending it and an old one retired once nothing
encrypted with it is left.
"""

from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "SenderSecrets", "sender_secrets"]


class SenderSecrets:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The secret; raises InvalidToken when no configured key encrypted it."""
        return self._fernet.decrypt(ciphertext.encode("ascii")).decode()


@lru_cache(maxsize=8)
def sender_secrets(keys: tuple[str, ...]) -> SenderSecrets:
    """One SenderSecrets per key list, built once (the settings do not change at run time)."""
    return SenderSecrets(keys)
