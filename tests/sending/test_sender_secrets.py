"""SMTP passwords at rest: Fernet encryption whose keys rotate, and the settings that hold them."""

import json

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from outreach.config import DEV_SENDER_SECRET_KEY, Settings
from outreach.sending.secrets import InvalidToken, SenderSecrets

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_secret_round_trips_and_is_not_stored_in_clear() -> None:
    secrets = SenderSecrets([NEW_KEY])
    ciphertext = secrets.encrypt("hunter2")
    assert "hunter2" not in ciphertext
    assert secrets.decrypt(ciphertext) == "hunter2"


def test_a_secret_encrypted_with_an_old_key_decrypts_after_a_new_key_is_prepended() -> None:
    ciphertext = SenderSecrets([OLD_KEY]).encrypt("hunter2")
    rotated = SenderSecrets([NEW_KEY, OLD_KEY])
    assert rotated.decrypt(ciphertext) == "hunter2"


def test_the_newest_key_encrypts() -> None:
    ciphertext = SenderSecrets([NEW_KEY, OLD_KEY]).encrypt("hunter2")
    assert SenderSecrets([NEW_KEY]).decrypt(ciphertext) == "hunter2"
    with pytest.raises(InvalidToken):
        SenderSecrets([OLD_KEY]).decrypt(ciphertext)


def test_a_retired_key_no_longer_decrypts() -> None:
    ciphertext = SenderSecrets([OLD_KEY]).encrypt("hunter2")
    with pytest.raises(InvalidToken):
        SenderSecrets([NEW_KEY]).decrypt(ciphertext)


def test_settings_read_sender_keys_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_SENDER_SECRET_KEYS", json.dumps([NEW_KEY, OLD_KEY]))
    settings = Settings(env="test", _env_file=None)  # type: ignore[call-arg]
    assert settings.sender_secret_keys == [NEW_KEY, OLD_KEY]


def test_settings_default_is_a_usable_development_key() -> None:
    settings = Settings(env="development", _env_file=None)  # type: ignore[call-arg]
    assert settings.sender_secret_keys == [DEV_SENDER_SECRET_KEY]
    SenderSecrets(settings.sender_secret_keys)


@pytest.mark.parametrize("keys", [[], ["not-a-fernet-key"]], ids=["empty", "invalid"])
def test_settings_refuse_empty_or_invalid_sender_keys(keys: list[str]) -> None:
    with pytest.raises(ValidationError, match="sender_secret_keys"):
        Settings(env="test", sender_secret_keys=keys, _env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "keys", [[DEV_SENDER_SECRET_KEY], [NEW_KEY, DEV_SENDER_SECRET_KEY]], ids=["alone", "listed"]
)
def test_production_refuses_the_development_sender_key(keys: list[str]) -> None:
    with pytest.raises(ValidationError, match="OUTREACH_SENDER_SECRET_KEYS"):
        Settings(  # type: ignore[call-arg]
            env="production",
            jwt_secret="a-real-production-jwt-secret-0123456789",
            tracking_secrets=["a-real-production-tracking-secret-0123456789"],
            sender_secret_keys=keys,
            _env_file=None,
        )
