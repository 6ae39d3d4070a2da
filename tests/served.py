"""`outreach serve` (or another command) as a real process on the test database: its address,
what it prints, and its log."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from outreach.db import DatabaseUrls

OUTREACH = str(Path(sys.executable).parent / "outreach")
ANSWERS_ON = "outreach answers on "


def environment(urls: DatabaseUrls, data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its outreach settings, on the test database."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OUTREACH_", "DATABASE_"))
    }
    return {
        **kept,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": urls.app,
        "DATABASE_OWNER_URL": urls.owner,
        "OUTREACH_ENV": "test",
        "OUTREACH_DATA_DIR": str(data_dir),
        **settings,
    }


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [OUTREACH, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path  # what it printed and logged (uvicorn's access log goes to stdout)

    def log_lines(self) -> list[str]:
        """What it logged, cut into lines the way a terminal or a log shipper would."""
        return self.log.read_text().replace("\r", "\n").splitlines()


@contextmanager
def serve(env: dict[str, str], cwd: Path, *args: str) -> Iterator[Served]:
    log = cwd / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [OUTREACH, "serve", "--port", "0", *args],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        served = Served(_announced_url(process, log), process, log)
        _wait_ready(served.url)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


def _announced_url(process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith(ANSWERS_ON):
                return line.removeprefix(ANSWERS_ON).split()[0]
        time.sleep(0.1)
    raise AssertionError(f"outreach serve did not start:\n{log.read_text()}")


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")
