"""What the fault tests break, each on a port of its own: a redis-server that can crash, a relay that can cut a
real RabbitMQ or PostgreSQL off, and an address that accepts and never answers."""
import shutil
import socket
import subprocess
import threading

import redis

from tests.services import missing
from tests.worker import wait_for

LOOPBACK = "127.0.0.1"


def free_port():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own that keeps nothing on disk: after `crash()` and `start()` it is up again
    and empty, as a Redis without persistence is after a restart. Every queued and unacknowledged message is gone."""

    def __init__(self, folder):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            missing("redis-server (Debian's redis-server package)")
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"redis://{LOOPBACK}:{self.port}/0"
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host=LOOPBACK, port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _answers(client.ping), timeout=20)
        client.close()

    def crash(self):
        """SIGKILL: whatever it held is lost, and every connection to it breaks."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self):
        return redis.Redis.from_url(self.url)


def _answers(call):
    try:
        return call()
    except (redis.RedisError, OSError):
        return False


class Relay:
    """A TCP relay on a free port to a real server. `cut()` breaks every connection through it and refuses new
    ones, as a server that went down or a network that broke does to its clients; `mend()` lets them through
    again. What the server holds survives, as a durable RabbitMQ's queues or PostgreSQL's rows survive a restart."""

    def __init__(self, host, port):
        self.target, self.port = (host, port), free_port()
        self._lock = threading.Lock()
        self._open = set()
        self._listener = None
        self.mend()

    def url(self, template):
        """`template` with {port} filled in: "amqp://guest:guest@127.0.0.1:{port}//"."""
        return template.format(port=self.port)

    def mend(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the accept() blocked in the other thread; close() alone would not.
            _shutdown(listener)
            listener.close()
        with self._lock:
            broken, self._open = self._open, set()
        for sock in broken:
            _shutdown(sock)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
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

    close = cut


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
