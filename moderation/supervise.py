"""Run a few child processes in the foreground; when one stops, or on Ctrl-C, stop them all."""
import signal
import subprocess
import time

GRACE_SECONDS = 10


def run_children(commands):
    """Start every command; return the first non-zero exit code among them (0 after Ctrl-C)."""
    procs = {name: subprocess.Popen(argv) for name, argv in commands.items()}
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping and all(p.poll() is None for p in procs.values()):
            time.sleep(0.2)
        for name, proc in procs.items():
            if proc.poll() is not None and not stopping:
                print(f"{name} stopped with exit code {proc.returncode}; stopping the others.", flush=True)
    finally:
        _terminate(procs.values())
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [p.returncode for p in procs.values()]
    return 0 if stopping else next((c for c in codes if c), 0)


def _terminate(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
