"""A small HTTP/1.1 load generator: a few client connections in threads, every request's latency and status kept.

    from load import run
    figures = run("http://127.0.0.1:8000", lambda i: ("GET", "/", {}, b""), clients=8, requests=20_000, seconds=10)

Each client is a thread with one connection, kept alive between requests and opened again when the server
closes it (gunicorn's sync workers close after every answer, so there each request pays for its connection, as a
browser's would). Requests are numbered from 0 across all clients, so `make_request(i)` can make every one
distinct. The warm-up requests (the first `warmup` numbers) go through the same connections and are not counted.

The server under test shares the machine's cores with this client, so the client must cost as little CPU as
possible: requests go out through plain sockets, the address is resolved once, and answers are parsed only as far
as framing needs (status, Content-Length or chunked, Connection), with none of http.client's header parsing (which
took twice the user time per request). On two shared cores, 8 clients drove a trivial WSGI app behind
`gunicorn -w 4` (a new connection per request) at about 5,000 requests/s for about 115 us of this process's CPU per
request, most of it the kernel's for a connection per request (17 % of one core at 1,500 requests/s), and a
keep-alive server (Node's http) at 12,700 requests/s for 57 us per request. A slow server costs more per request
(200 to 450 us against the service's pages at 100 to 500 requests/s): each answer wakes a thread from idle, and a
page of half a megabyte is copied in. `python bench/load.py URL` measures it again.

Every loop is bounded: the clients by the request count and the deadline, each answer by its size and by a
per-request timeout.
"""
import argparse
import itertools
import socket
import threading
import time
from urllib.parse import urlsplit

# An answer bigger than this is an error, not a page: reading stops there.
MAX_ANSWER = 64 * 1024 * 1024
RECEIVE = 256 * 1024
KEPT_ERRORS = 5
KEPT_ERROR_BODY = 300
NO_BODY = (204, 304)


class ServerClosed(ConnectionError):
    """The server closed a kept-alive connection before answering: it may be sent again on a new one."""


class BadAnswer(ConnectionError):
    """The answer is not HTTP/1.x as this client reads it, or it is too big."""


def ok_status(status, body):
    """The default check: any answer below 400 (redirects included) is a success."""
    return 0 < status < 400


class Connection:
    """One client's connection to the server, opened when needed and kept while the server keeps it."""

    def __init__(self, family, address, timeout):
        self.family, self.address = family, address
        self.timeout = timeout
        self.sock = None
        self.buffer = b""  # received, not yet read

    def _connect(self):
        """A new socket to the address resolved once (create_connection would ask the resolver every time)."""
        self.sock = socket.socket(self.family)
        self.sock.settimeout(self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.connect(self.address)
        except OSError:
            self.close()
            raise

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock, self.buffer = None, b""

    def exchange(self, request):
        """Send the request bytes and read the answer: (status, body). A kept-alive connection the server closed
        meanwhile is opened again once; a failure on a fresh connection is the caller's."""
        for _ in range(2):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                self.sock.sendall(request)
                return self._answer(time.monotonic() + self.timeout)
            except (ServerClosed, BrokenPipeError, ConnectionResetError):
                self.close()
                if fresh:
                    raise
        raise AssertionError("unreachable: the second try is on a fresh connection")

    def _answer(self, deadline):
        if not self.buffer and not self._fill(deadline):
            raise ServerClosed("closed before answering")
        status, headers, keep_alive = _head(self._until(b"\r\n\r\n", deadline))
        if status in NO_BODY or status < 200:
            body = b""
        elif "content-length" in headers:
            body = self._exactly(int(headers["content-length"]), deadline)
        elif "chunked" in headers.get("transfer-encoding", ""):
            body = self._chunked(deadline)
        else:
            body, keep_alive = self._until_closed(deadline), False
        if not keep_alive:
            self.close()
        return status, body

    def _fill(self, deadline):
        """One receive into the buffer; False when the server has closed the connection."""
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the timeout")
        if len(self.buffer) > MAX_ANSWER:
            raise BadAnswer("the answer is too big")
        chunk = self.sock.recv(RECEIVE)
        self.buffer += chunk
        return bool(chunk)

    def _until(self, marker, deadline):
        """The bytes up to `marker`, which is read too."""
        while (end := self.buffer.find(marker)) < 0:
            if not self._fill(deadline):
                raise BadAnswer("closed in the middle of an answer")
        part, self.buffer = self.buffer[:end], self.buffer[end + len(marker):]
        return part

    def _exactly(self, length, deadline):
        """The next `length` bytes, received straight into one buffer of that size (a page is copied in once)."""
        if length <= len(self.buffer):
            part, self.buffer = self.buffer[:length], self.buffer[length:]
            return part
        if length > MAX_ANSWER:
            raise BadAnswer(f"a body of {length} bytes is too big")
        body = bytearray(length)
        view, have = memoryview(body), len(self.buffer)
        view[:have], self.buffer = self.buffer, b""
        while have < length:  # bounded: each receive brings at least a byte, or the deadline passes
            if time.monotonic() > deadline:
                raise TimeoutError("the answer took longer than the timeout")
            received = self.sock.recv_into(view[have:])
            if not received:
                raise BadAnswer("closed before the end of the body")
            have += received
        return body

    def _until_closed(self, deadline):
        while self._fill(deadline):
            pass
        body, self.buffer = self.buffer, b""
        return body

    def _chunked(self, deadline):
        """Transfer-Encoding: chunked; trailers are skipped."""
        parts, have = [], 0
        while size := int(self._until(b"\r\n", deadline).split(b";", 1)[0], 16):
            have += size
            if have > MAX_ANSWER:
                raise BadAnswer("the answer is too big")
            parts.append(self._exactly(size, deadline))
            self._until(b"\r\n", deadline)
        while self._until(b"\r\n", deadline):  # trailers, up to the empty line
            pass
        return b"".join(parts)


def _head(raw):
    """(status, {lower-case name: value}, whether the connection stays open) from an answer's header block."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise BadAnswer(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    closes = "close" in headers.get("connection", "").lower()
    return int(parts[1]), headers, parts[0] == "HTTP/1.1" and not closes


def encode(host_header, method, path, headers, body):
    """The request's bytes; Host and Content-Length are set here, everything else is the caller's."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Client:
    """One thread's share of a run: its connection, its latencies, its statuses."""

    def __init__(self, connection):
        self.connection = connection
        self.latencies = []
        self.statuses = {}

    def work(self, load, numbers, stop_before, deadline):
        self.latencies, self.statuses = [], {}
        for i in numbers:  # the shared counter: each number once, across every client
            if i >= stop_before or load.interrupted or time.monotonic() >= deadline:
                return
            request = encode(load.host_header, *load.make_request(i))
            started = time.perf_counter()
            try:
                status, body = self.connection.exchange(request)
            except (OSError, ValueError) as error:  # refused, reset, timed out, unreadable
                self.connection.close()
                status, body = 0, repr(error).encode()
            self.latencies.append(time.perf_counter() - started)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if not load.check(status, body):
                load.failed(i, status, body)


class _Load:
    """What the clients of one run share: where to send, how to make and check a request, the failures."""

    def __init__(self, base_url, make_request, check, clients, timeout):
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"an http:// base URL is needed, not {base_url!r}")
        family, _, _, _, address = socket.getaddrinfo(url.hostname, url.port or 80, type=socket.SOCK_STREAM)[0]
        self.host_header = url.netloc
        self.make_request, self.check = make_request, check
        self.clients = [_Client(Connection(family, address, timeout)) for _ in range(clients)]
        self.errors, self.error_samples = 0, []
        self.interrupted = False
        self._lock = threading.Lock()

    def failed(self, i, status, body):
        with self._lock:
            self.errors += 1
            if len(self.error_samples) < KEPT_ERRORS:
                self.error_samples.append({"request": i, "status": status,
                                           "body": body[:KEPT_ERROR_BODY].decode("utf-8", "replace")})

    def phase(self, numbers, stop_before, seconds):
        """Every client sends requests numbered from the shared counter until `stop_before` or `seconds` pass."""
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=client.work, args=(self, numbers, stop_before, deadline), daemon=True)
                   for client in self.clients]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                # A client stops by the deadline plus one request's timeout at worst.
                thread.join(seconds + self.clients[0].connection.timeout + 5)
        except BaseException:  # Ctrl-C: the clients stop before their next request, not at the deadline
            self.interrupted = True
            raise
        if any(thread.is_alive() for thread in threads):
            raise RuntimeError("a client did not stop within its deadline and timeout")

    def close(self):
        for client in self.clients:
            client.connection.close()


def run(base_url, make_request, clients=8, requests=1_000_000, seconds=10.0, warmup=0, warmup_seconds=1.0,
        check=ok_status, timeout=30.0, first=0):
    """Send at most `requests` requests in at most `seconds` (after at most `warmup` uncounted ones in at most
    `warmup_seconds`) over `clients` connections. `make_request(i)` gives request i as (method, path, headers,
    body), i counting from `first`; `check(status, body)` says whether its answer is a success (status 0: no answer,
    the body says why).

    Returns a dict: requests, seconds, requests_per_s, p50_ms, p90_ms, p99_ms, max_ms, errors, error_samples (the
    first few failures: request number, status, start of the body), statuses, client_cpu_us_per_request (this
    process's CPU, every thread of it, per counted request), warmup_error_samples (the warm-up's first failures:
    not counted, but a server that fails while it starts is worth knowing about), and next_number (where another
    run's `first` must start for its requests to differ from this run's).
    """
    load = _Load(base_url, make_request, check, clients, timeout)
    warmup_errors = []
    try:
        if warmup:
            load.phase(itertools.count(first), first + warmup, warmup_seconds)
            warmup_errors, load.errors, load.error_samples = load.error_samples, 0, []
        cpu, started = time.process_time(), time.perf_counter()
        # A fresh counter: each warm-up client drew one number past the warm-up that it never sent.
        numbers = itertools.count(first + warmup)
        load.phase(numbers, first + warmup + requests, seconds)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        load.close()
    return {**_summary(load, elapsed, cpu), "warmup_error_samples": warmup_errors, "next_number": next(numbers)}


def _summary(load, elapsed, cpu):
    """The clients' latencies and statuses merged into the figures `run` returns."""
    latencies = sorted(latency for client in load.clients for latency in client.latencies)
    statuses = {}
    for client in load.clients:
        for status, count in client.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    count = len(latencies)
    return {
        "requests": count, "seconds": round(elapsed, 3), "requests_per_s": round(count / elapsed, 1) if elapsed else 0,
        **{f"p{p}_ms": percentile_ms(latencies, p) for p in (50, 90, 99)},
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "errors": load.errors, "error_samples": load.error_samples,
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "client_cpu_us_per_request": round(cpu / count * 1e6, 1) if count else None,
    }


def percentile_ms(ordered, p):
    """The nearest-rank percentile of sorted seconds, in milliseconds; None for no data."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return round(ordered[rank - 1] * 1000, 2)


def main():
    parser = argparse.ArgumentParser(description="GET one URL as fast as the clients can, and print the figures.")
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    url = urlsplit(args.url)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    figures = run(f"{url.scheme}://{url.netloc}", lambda i: ("GET", path, {}, b""), clients=args.clients,
                  requests=args.requests, seconds=args.seconds, warmup=args.clients * 10)
    for name, value in figures.items():
        print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
