"""Which machine and process runs a piece of work, and whether that process is still alive.

Jobs, batches and tuning trials record ``HOST`` and a pid; a reader on the same host can then tell
a worker that died from one that is merely slow.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST = socket.gethostname()


def worker_id() -> str:
    """Who runs a piece of work: ``host:pid``."""
    return f"{HOST}:{os.getpid()}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine and has not exited (a zombie has)."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: rely on heartbeats
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc on this system: the signal check has to do
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
