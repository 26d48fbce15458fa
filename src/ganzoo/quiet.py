"""Keep TensorFlow's native start-up chatter out of the ``ganzoo`` command's output.

TensorFlow 2.21 logs through absl from two shared libraries before absl's logging is
initialised, so ``TF_CPP_MIN_LOG_LEVEL`` no longer filters those lines: every ``ganzoo train``
printed "All log messages before absl::InitializeLog() ...", the oneDNN and ``cudart_stub``
notices (each twice, once per library), the CPU-instructions notice and, on a machine
without a GPU, ``E0000 ... failed call to cuInit``. :func:`filter_native_logs` routes file
descriptor 2 through a thread that drops the absl-formatted lines below the level
``TF_CPP_MIN_LOG_LEVEL`` asks for (``2`` unless the user set it: errors only) and the few
error lines that only say there is no GPU; everything else (Python warnings, tracebacks,
TensorFlow errors) passes through unchanged. ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

__all__ = ["filter_native_logs", "is_noise", "quiet_tensorflow_logging", "tf_min_log_level"]

#: absl's prefix: severity letter, MMDD, time (before absl is initialised: 00:00:<epoch seconds>), thread id, file:line]
_ABSL_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.\-]+:\d+\] ")
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
#: Error-level lines that only say that this machine has no (usable) GPU or that a CUDA
#: plugin registered twice: dropped at the default level 2, shown at 0 and 1.
_BENIGN_ERRORS = (b"failed call to cuInit", b"Unable to register cuDNN factory", b"Unable to register cuFFT factory",
                  b"Unable to register cuBLAS factory", b"computation placer already registered")
_PRE_INIT_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: The second line of cpu_feature_guard's notice (it has no absl prefix of its own).
_CONTINUATION = b"To enable the following instructions:"


def tf_min_log_level() -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as an int (0 when unset or unreadable)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def quiet_tensorflow_logging(level: str = "2") -> int:
    """Before TensorFlow is imported: default ``TF_CPP_MIN_LOG_LEVEL`` to ``level`` (a user's own
    setting wins) and set Python absl's verbosity to match; returns the level in force."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)
    min_level = tf_min_log_level()
    try:
        from absl import logging as absl_logging  # noqa: PLC0415

        absl_logging.set_verbosity({0: "info", 1: "warning", 2: "error"}.get(min_level, "fatal"))
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass
    return min_level


def is_noise(line: bytes, min_level: int, previous_dropped: bool = False) -> bool:
    """Whether ``line`` (bytes, without its newline) is native chatter to drop at ``min_level``."""
    if min_level <= 0:
        return False
    stripped = line.rstrip(b"\r")
    if stripped == _PRE_INIT_NOTICE:
        return True
    if previous_dropped and stripped.startswith(_CONTINUATION):
        return True
    match = _ABSL_LINE.match(stripped)
    if match is None:
        return False
    severity = _SEVERITY[match.group(1)]
    if severity < min_level:
        return True
    return min_level >= 2 and severity == 2 and any(s in stripped for s in _BENIGN_ERRORS)


def _may_start_a_log_line(partial: bytes) -> bool:
    """Whether an unfinished line could still become a line to drop (then it waits for its end)."""
    return bool(re.match(rb"[IWEF](\d|$)", partial)) or _PRE_INIT_NOTICE.startswith(partial[:len(_PRE_INIT_NOTICE)])


class _Filter:
    def __init__(self, min_level: int):
        self.min_level = min_level
        self.saved = os.dup(2)
        read_end, self.write_end = os.pipe()
        self.reader = os.fdopen(read_end, "rb", buffering=0)
        self.thread = threading.Thread(target=self._pump, name="ganzoo-stderr-filter", daemon=True)

    def _pump(self):
        pending, dropped = b"", False
        while True:
            try:
                chunk = self.reader.read(65536)
            except OSError:  # pragma: no cover
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = []
            for line in lines:
                dropped = is_noise(line, self.min_level, dropped)
                if not dropped:
                    out.append(line + b"\n")
            # A partial line (a prompt, a progress bar on stderr) goes out at once.
            if pending and not _may_start_a_log_line(pending):
                out.append(pending)
                pending = b""
            if out:
                self._write(b"".join(out))
        if pending and not is_noise(pending, self.min_level, dropped):
            self._write(pending)
        self.reader.close()

    def _write(self, data: bytes):
        while data:
            try:
                data = data[os.write(self.saved, data):]
            except OSError:  # pragma: no cover - stderr closed: nothing to do
                return

    def start(self):
        self.thread.start()
        sys.stderr.flush()
        os.dup2(self.write_end, 2)
        os.close(self.write_end)

    def stop(self):
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self.saved, 2)  # closes the pipe's last write end: the pump reads to the end and stops
        self.thread.join(timeout=5)
        if not self.thread.is_alive():  # else a child process still holds the pipe: the pump keeps its fd
            os.close(self.saved)


@contextlib.contextmanager
def filter_native_logs(level: str = "2"):
    """Within the block, drop TensorFlow's native chatter from file descriptor 2 (see the module
    docstring). Does nothing when the level in force is 0 or when fd 2 cannot be redirected."""
    min_level = quiet_tensorflow_logging(level)
    if min_level <= 0:
        yield
        return
    try:
        filt = _Filter(min_level)
        filt.start()
    except (OSError, ValueError, RuntimeError):  # pragma: no cover - no fd 2 (e.g. some GUIs)
        yield
        return
    try:
        yield
    finally:
        filt.stop()
