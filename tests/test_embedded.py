"""The embedded PostgreSQL's bookkeeping of the processes that use it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from outreach.embedded import _forget_dead_users


def test_pids_of_processes_that_died_without_cleanup_are_forgotten(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid_file = tmp_path / ".handle_pids.json"
    pid_file.write_text(json.dumps([int(dead.stdout), os.getpid()]))
    _forget_dead_users(tmp_path)
    assert json.loads(pid_file.read_text()) == [os.getpid()]
