"""The production web server: gunicorn, with as many processes as the machine has cores to use them.

Python runs one thread at a time per process, so the processes are what use the cores; the threads in each
(gunicorn's `gthread` workers) answer while another request waits on the database or the broker, and hold
kept-alive connections without a process each. gunicorn hands a connection that has sent nothing yet back to a
poller after a thread waited up to 5 s for its first bytes; one that sent part of a request and stopped would hold
its thread for as long as it stays open, so here each read and write on a client's socket gives up after
CLIENT_SECONDS. Each process builds its own app (nothing is shared across a fork: no database connection, no
broker connection).
"""
import errno
import logging
import os
import socket
import struct
import threading
from concurrent import futures
from functools import partial

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

# Per process: requests that wait on the database or the broker overlap. Clients that stop mid-request hold a thread
# each for up to CLIENT_SECONDS (twice that with a body): with 4 a process rides out as many as it has threads.
# (bench/web.py on SQLite, 4 processes: 1 thread posted about 15 % faster than 4, within a wide spread between
# runs, but one stalled client would then hold a whole process.)
THREADS = 4
# Each process holds its own app, about 180 MB of its own with the spam model: a bound, whatever the machine.
MOST_WORKERS = 8
TIMEOUT_SECONDS = 30
# How long a thread waits on a client that stopped sending (or reading) mid-request; a person's browser, even on a
# poor connection, sends a comment's few kilobytes in far less.
CLIENT_SECONDS = 5
# Connections at most waiting, per process, for their client to close its side after the answer (up to 2 s each).
MOST_LINGERING = 64
STALLED = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ETIMEDOUT)


def cores():
    """The cores this process may run on (a container's or a CPU set's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers():
    """Two processes per core: while one waits on a commit, the other computes."""
    return max(2, min(2 * cores(), MOST_WORKERS))


def _not_a_stalled_client(record):
    """gunicorn logs a client that stopped mid-request as a socket error with its traceback: not the server's."""
    error = record.exc_info[1] if record.exc_info else None
    return not (isinstance(error, OSError) and error.errno in STALLED)


class Worker(ThreadWorker):
    """gunicorn's threaded worker, each client socket bounded in how long one read or write may wait, taking new
    connections only while it has a thread free.

    gunicorn's own takes every connection it can (up to 1,000), so that one process may end up holding all the kept-
    alive connections of a proxy or of a few busy clients while the others idle: one core does the work of all.
    Here a process whose threads are all busy leaves new connections to the others (or, when every process is busy,
    in the listening socket's backlog until a thread is free). Kept-alive connections it already holds wait in its
    poller as before and do not count: only requests being answered do.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answering = 0  # requests handed to the thread pool and not finished: touched by the main thread only

    def init_process(self):
        logging.getLogger("gunicorn.error").addFilter(_not_a_stalled_client)
        # gunicorn closes a finished connection "gracefully" on its main loop: it lingers up to 2 s reading until the
        # client closes its side, and meanwhile the process accepts nothing and answers none of its kept-alive
        # connections. A client that never closes would stall the whole process 2 s at a time; here it waits on a
        # thread of its own.
        self.closer = futures.ThreadPoolExecutor(max_workers=self.cfg.threads, thread_name_prefix="close")
        self.lingering = 0  # closes handed to the closer and not yet done (its threads count them down)
        self.lingering_lock = threading.Lock()
        super().init_process()

    def enqueue_req(self, conn):
        bound = struct.pack("ll", CLIENT_SECONDS, 0)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bound)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, bound)
        self.answering += 1
        super().enqueue_req(conn)
        if self.answering >= self.cfg.threads:
            self.set_accept_enabled(False)

    def finish_request(self, conn, fs):
        self.answering -= 1
        conn.close = partial(self._close, conn)
        super().finish_request(conn, fs)

    def _close(self, conn, graceful=False):
        """Graceful closes linger on the closer's threads; past MOST_LINGERING waiting, a connection is closed at
        once, so that clients that never close cannot pile up open sockets faster than the closer lets them go."""
        with self.lingering_lock:
            linger = graceful and self.lingering < MOST_LINGERING
            self.lingering += linger
        if linger:
            self.closer.submit(self._linger, conn)
        else:
            TConn.close(conn)

    def _linger(self, conn):
        try:
            TConn.close(conn, graceful=True)
        finally:
            with self.lingering_lock:
                self.lingering -= 1

    def set_accept_enabled(self, enabled):
        """gunicorn's main loop turns accepting on whenever it holds fewer connections than its limit; on, here, only
        while a thread is free too (the loop asks again after every finished request)."""
        super().set_accept_enabled(enabled and self.answering < self.cfg.threads)


class Server(BaseApplication):
    def __init__(self, factory, options):
        self.factory, self.options = factory, options
        super().__init__()

    def load_config(self):
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        return self.factory()


def serve(factory, host, port, workers, threads):
    """Serve `factory()`'s app until stopped (Ctrl-C or SIGTERM stop it gracefully)."""
    Server(factory, {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": Worker,
        "threads": threads,
        "timeout": TIMEOUT_SECONDS,
        "graceful_timeout": 10,
        "keepalive": 5,
        "proc_name": "moderation-web",
        # The app's own proxy settings (MODERATION_PROXY_HOPS) decide what a forwarded header may say; gunicorn
        # believes none of them.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        # Access logs would hold every address and query; the app logs what it needs, never personal data.
        "accesslog": None,
        "errorlog": "-",
        "limit_request_field_size": 8190,
        # gunicorn 27's control socket is one path per user: two servers on a machine would take it from each other.
        "control_socket_disable": True,
    }).run()
