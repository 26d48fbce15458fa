"""Whether the network can be used: one probe shared by everything that may download
(TFDS datasets, Keras' Inception-V3 weights), so that offline runs fail at once with
instructions instead of hanging in a download."""

from __future__ import annotations

import os
import socket
import threading

__all__ = ["network_reachable", "PROBE_HOST", "PROBE_TIMEOUT"]

#: Host probed (TFDS and Keras both download from it).
PROBE_HOST = ("storage.googleapis.com", 443)
#: Seconds the probe waits for a connection.
PROBE_TIMEOUT = 3.0


def network_reachable() -> bool:
    """True if a TCP connection to the TFDS storage host succeeds within 3 s (never if
    ``GANZOO_OFFLINE=1``). Runs in a daemon thread so that a hanging DNS lookup cannot block."""
    if os.environ.get("GANZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes"):
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(PROBE_HOST, timeout=PROBE_TIMEOUT).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="ganzoo-network-probe", daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT)
    return bool(result and result[0])
