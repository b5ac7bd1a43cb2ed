"""Child processes that stop with their parent.

The drivers that run ``train`` in a child process (``results``, ``rerun``) turn SIGTERM and
SIGHUP into :class:`Stopped` (a KeyboardInterrupt, so the command line reports it as an
interruption), and :func:`run_child` passes the stop on to the running child: SIGTERM, then
SIGKILL after :data:`GRACE` seconds. Without it, a stopped driver left its child training.
A child's record is written atomically, so a stopped child leaves its record as it was.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

#: seconds a child is given to end after SIGTERM before it is killed
GRACE = 10.0


class Stopped(KeyboardInterrupt):
    """The driver was sent SIGTERM or SIGHUP; ``signal`` is its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signal = signum


def _raise_stopped(signum, frame) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals():
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` (main thread only; the
    previous handlers come back after it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_stopped)
                for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signum)


def run_child(args: list[str], **popen) -> subprocess.CompletedProcess:
    """``subprocess.run(args, **popen)``, but an exception in the parent while the child runs
    (:class:`Stopped`, Ctrl-C) ends the child and the processes it started (its own process
    group) first: SIGTERM, SIGKILL after :data:`GRACE` seconds, then the exception goes
    on."""
    # its own process group: the stop reaches what the run started too (a JVM, DDP workers)
    process = subprocess.Popen(args, process_group=0, **popen)
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(GRACE)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        _signal_group(process, signal.SIGKILL)  # whatever of the group outlived its leader
        raise
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
