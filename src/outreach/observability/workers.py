"""The folder several uvicorn workers share their metrics in (prometheus_client's multiprocess
mode), made for `outreach serve --workers N` before its workers start. Apart from metrics.py:
the serving parent must not import prometheus_client's metrics before the folder exists."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR) or None


@contextlib.contextmanager
def shared_metrics_folder() -> Iterator[Path]:
    """The folder the workers about to start share their figures in, empty: PROMETHEUS_MULTIPROC_DIR
    when set (emptied now, kept after), else a temporary one, removed when they are done."""
    given = multiprocess_dir()
    if given is not None:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # a previous run's: its counters are not ours
            stale.unlink()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="outreach-metrics-"))
    os.environ[MULTIPROC_DIR] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(folder, ignore_errors=True)
