"""Whether a process runs, by its pid (the embedded server's, a serve's, a metrics worker's)."""

import os


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
