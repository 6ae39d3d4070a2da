"""An SMTP sink for the sending benchmark: accepts every message, keeps nothing, and on SIGTERM
prints how many it accepted. Runs in its own process so that it does not share a core's event
loop with what is measured.

    python bench/smtp_sink.py PORT
"""

import signal
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Count:
    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted += 1
        return "250 OK"


def main() -> None:
    count = Count()
    controller = Controller(count, hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
    print(f"accepted {count.accepted}", flush=True)


if __name__ == "__main__":
    main()
