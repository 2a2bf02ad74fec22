"""The peers our service is benchmarked against, side by side on this machine: Isso 0.14.0 and Waline 1.39.3.

Each module (`isso`, `waline`) has NAME, install() and running(port, workdir, workers); the object running() yields
builds the requests the peer's own browser client sends, so bench/web.py and bench/load.py time every service with
one loop. README.md beside this file gives the recipes and what is unfair about them.

This file also holds what both recipes share: the shape of a seeded thread (the same as our own, so the three serve
comparable pages) and starting, awaiting and stopping a server's processes, so that nothing outlives a run.
"""
import http.client
import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

INSTALLS = Path(__file__).resolve().parent.parent / ".peers"  # bench/.peers: installed peers, never committed
START_TIMEOUT = 60  # seconds a peer may take to answer after it is started
STOP_TIMEOUT = 10  # seconds its processes get to end after SIGTERM, before SIGKILL
LOG_TAIL = 40  # lines of a peer's log quoted when it fails

MIN_CHARS, MAX_CHARS = 200, 600
REPLY_SHARE = 0.2  # about one seeded comment in five answers an earlier one
LINK_SHARE = 0.3  # and about one in three carries a link
AUTHORS = 60  # seeded comments come from this many regular readers
SENTENCES = (
    "I read this twice before I understood the second half, and it was worth it.",
    "We tried the same approach at work last spring and ran into the caching problem you describe.",
    "The part about measuring before changing anything is the lesson most teams learn too late.",
    "Could you say a little more about how this behaves once the data no longer fits in memory?",
    "My experience was different: the simple version held up for years without any trouble.",
    "Thanks for writing this up so clearly, it saved me an afternoon of guessing.",
    "I am not convinced the numbers in the third table would hold on slower disks.",
    "The diagram made it click for me, even though the text around it is dense.",
    "We ended up doing something similar, only with a queue between the two services.",
    "One small correction: the option was renamed in the last major release.",
    "It would be interesting to see the same comparison on a machine with fewer cores.",
    "I keep coming back to this post whenever someone on the team asks about it.",
    "The trade-off you mention at the end is exactly the one we argued about for weeks.",
    "Has anyone tried this on a site with a few thousand comments per article?",
    "This is the first explanation of the topic that did not skip the boring but important parts.",
    "Our deployment looks almost the same, except that we keep the database on its own host.",
    "I wonder whether the results would change with a warmer cache.",
    "The follow-up questions in this thread are nearly as useful as the article itself.",
)
LINK_SENTENCES = (
    "There is a longer write-up of our attempt at https://notes.example.net/posts/{n}.",
    "The benchmark we ran is described at https://blog.example.org/measurements/{n} if anyone is curious.",
    "Related discussion: https://forum.example.com/t/{n}.",
)


@dataclass(frozen=True)
class SeedComment:
    """One comment of a seeded thread; `parent` is the index of the earlier comment it answers, or None."""

    parent: int | None
    author: str
    email: str
    text: str


def seed_comments(count, seed=2024):
    """`count` comments in posting order, the same for every service given the same `count` and `seed`."""
    rng = random.Random(seed)
    comments = []
    for k in range(count):
        reader = rng.randrange(AUTHORS)
        parent = rng.randrange(k) if k and rng.random() < REPLY_SHARE else None
        comments.append(SeedComment(parent, f"Reader {reader}", f"author{reader}@example.org", prose(rng)))
    return comments


def post_text(i):
    """The text of new comment number `i`: prose like a seeded comment's, distinct for every `i` so that no
    service's duplicate check refuses it."""
    return prose(random.Random(f"post {i}"), closing=f"Posted by reader number {i}.")


def prose(rng, closing=""):
    """Distinct sentences in random order until the text is between MIN_CHARS and MAX_CHARS long (SENTENCES hold
    far more than MAX_CHARS), with a link in about LINK_SHARE of texts and `closing`, if any, last."""
    target = rng.randint(MIN_CHARS, MAX_CHARS)
    parts = [closing] if closing else []
    if rng.random() < LINK_SHARE:
        parts.insert(0, rng.choice(LINK_SENTENCES).format(n=rng.randrange(1, 10_000)))
    for sentence in rng.sample(SENTENCES, len(SENTENCES)):
        if len(" ".join(parts)) >= target or len(" ".join([*parts, sentence])) > MAX_CHARS:
            break
        parts.insert(rng.randint(0, len(parts) - bool(closing)), sentence)
    return " ".join(parts)


def free_port():
    """A loopback port nothing listens on right now, for a helper process of a peer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_free(port):
    """RuntimeError at once, rather than a start-up timeout later, when something already listens on `port`; the
    probe reuses the address as servers do, so connections of an earlier run still closing do not count."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise RuntimeError(f"127.0.0.1:{port} is taken: {error}") from None


def server_env(**settings):
    """This process's environment for a peer's server, without the variables that would point a Python server at
    the project's own virtualenv, plus `settings`."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update({key: str(value) for key, value in settings.items()})
    return env


def start(command, *, cwd, env, log):
    """Start `command` as the leader of a process group of its own, output appended to `log`, so that stop() ends it
    together with every worker it forks."""
    with open(log, "ab") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(process):
    """SIGTERM to the whole group, SIGKILL to what is left of it after STOP_TIMEOUT, and the leader waited for."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process, signal.SIGKILL)  # workers the leader left behind, or a leader that would not stop
    process.wait(STOP_TIMEOUT)


def _signal_group(process, number):
    try:
        os.killpg(process.pid, number)
    except ProcessLookupError:
        pass


def wait_until_answering(process, port, path, log, timeout=START_TIMEOUT):
    """Return once GET `path` on 127.0.0.1:`port` answers 200; RuntimeError with the log's tail if the process
    ends first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before answering:\n{tail(log)}")
        if _status(port, path) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered GET {path} on 127.0.0.1:{port} within {timeout} s:\n{tail(log)}")


def _status(port, path):
    """The status of GET `path`, or None while nothing answers; http.client because urllib would honour a proxy."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def tail(log, lines=LOG_TAIL):
    """The last `lines` lines of a log, for an error message."""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


def run_step(command, *, cwd, what, timeout):
    """Run an install step; RuntimeError with the tail of its output when it fails or overruns `timeout`."""
    try:
        done = subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: still running after {timeout} s") from None
    except OSError as error:
        raise RuntimeError(f"{what}: {error}") from None
    if done.returncode:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-LOG_TAIL:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{output}")


# The recipes use the helpers above, so they are imported once those exist.
from . import isso, waline  # noqa: E402

PEERS = {"isso": isso, "waline": waline}
