"""What the fault tests break, each on an address of its own: a redis-server that can crash, a relay that can cut a
real RabbitMQ or PostgreSQL off, and an address that accepts and never answers."""
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import redis

from tests.services import missing
from tests.worker import wait_for

LOOPBACK = "127.0.0.1"


def free_port():
    """A port free now, for a server that binds it at once (another process could take it later)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own that keeps nothing on disk: after `crash()` and `start()` it is up again
    and empty, as a Redis without persistence is after a restart. Every queued and unacknowledged message is gone.
    It listens on a unix socket in `folder` only, so no other process on the machine can take its address while
    it is down."""

    def __init__(self, folder):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            missing("redis-server (Debian's redis-server package)")
        self.folder, self.proc = folder, None
        # A short path of its own: a unix socket's path may not be longer than 107 bytes, and tmp_path can be.
        self.socket = Path(tempfile.mkdtemp(prefix="redis-", dir="/tmp")) / "redis.sock"
        self.url = f"redis+socket://{self.socket}"
        self.log = folder / "redis.log"
        self.start()

    def start(self):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=0.5)
        try:
            wait_for(lambda: self.proc.poll() is not None or _answers(client.ping), timeout=20)
        finally:
            client.close()
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server stopped at once:\n{self.log.read_text()[-2000:]}")

    def crash(self):
        """SIGKILL: whatever it held is lost, and every connection to it breaks."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.crash()
        shutil.rmtree(self.socket.parent, ignore_errors=True)

    def client(self):
        return redis.Redis(unix_socket_path=str(self.socket))


def _answers(call):
    try:
        return call()
    except (redis.RedisError, OSError):
        return False


class Relay:
    """A TCP relay on a free port to a real server. `cut()` breaks every connection through it, and until `mend()`
    every new one is closed as soon as it is made, as a server that went down or a network that broke does to its
    clients. What the server holds survives, as a durable RabbitMQ's queues or PostgreSQL's rows survive a restart.
    The relay keeps its port all along, so nothing else can take it meanwhile."""

    def __init__(self, host, port):
        self.target = (host, port)
        self._lock = threading.Lock()
        self._open = set()
        self._cut = False
        self._cuts = 0  # how many times cut: a connection made before the last cut never gets through
        self._listener = socket.socket()
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, template):
        """`template` with {port} filled in: "amqp://guest:guest@127.0.0.1:{port}//"."""
        return template.format(port=self.port)

    def cut(self):
        with self._lock:
            self._cut = True
            self._cuts += 1
            broken, self._open = self._open, set()
        for sock in broken:
            _shutdown(sock)

    def mend(self):
        with self._lock:
            self._cut = False

    def close(self):
        """For good: the port too."""
        self.cut()
        _shutdown(self._listener)  # wakes the accept() blocked in the other thread; close() alone would not
        self._listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream, cuts = None, self._cuts
            if not self._cut:
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    pass
            with self._lock:  # cut() may have run meanwhile (and mend() too): what it did not see must not get through
                through = upstream is not None and not self._cut and self._cuts == cuts
                if through:
                    self._open |= {client, upstream}
            if not through:
                for sock in (client, upstream):
                    if sock is not None:
                        _shutdown(sock)
                        sock.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            _shutdown(sock)
        with self._lock:
            self._open -= {source, sink}
        source.close()  # each socket is the source of one pump, so each is closed once


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Silent:
    """A TCP address that accepts connections and never answers: a server that hangs. As an HTTPS proxy it makes
    every request through it time out."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        _shutdown(self.listener)
        self.listener.close()
        for sock in self.accepted:
            sock.close()
