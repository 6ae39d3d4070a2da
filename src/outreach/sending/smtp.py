"""SMTP with aiosmtplib: the connection check of a sender (the sending loop comes next)."""

from dataclasses import dataclass

import aiosmtplib

CHECK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    stage: str  # how far it got: connect, login, done
    detail: str


async def check_connection(
    host: str, port: int, tls: str, username: str | None, password: str | None
) -> ConnectionCheck:
    """Connect (TLS or STARTTLS as configured), log in when there is a username, say goodbye."""
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        use_tls=tls == "tls",
        start_tls=tls == "starttls",
        timeout=CHECK_TIMEOUT_SECONDS,
    )
    stage = "connect"
    try:
        await client.connect()
        if username:
            stage = "login"
            await client.login(username, password or "")
        await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return ConnectionCheck(ok=False, stage=stage, detail=str(exc)[:500] or type(exc).__name__)
    return ConnectionCheck(ok=True, stage="done", detail=f"{host}:{port} accepted the connection")
