"""The embedded broker (`sqla+sqlite:///…`, the default): kombu's SQLAlchemy transport, made cheaper to publish to
and quicker to take the next task from.

kombu's own channel looks its queue up by name and goes through an ORM session for every message; a comment's
post waits for that. This channel remembers each queue's id (a queue row is never deleted) and stores a message
with one INSERT in one short transaction: the same row, the same table, read by the same workers.

A worker polls the table. kombu sleeps the whole polling interval whenever it got nothing, also when it got
nothing only because every process of the worker was busy: each process then took one task per interval (ten a
second), however quick the checks. This transport sleeps the interval when the queue was empty, and only a moment
while the worker's own tasks run, so that the next task is taken as soon as a process is free.
"""
import socket
from queue import Empty
from time import monotonic, sleep

from kombu.exceptions import OperationalError
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.utils.json import dumps
from sqlalchemy.exc import IntegrityError

# The transport's default polling interval is a second: a comment would wait that long before a worker saw it.
POLLING_SECONDS = 0.1
# While every process is busy: how soon to look again for a free one.
BUSY_POLLING_SECONDS = 0.005


class Channel(kombu_sqlalchemy.Channel):
    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self._queue_ids = {}
        # The broker's database, kept with the channel: kombu's own _open() reads it from the channel's connection,
        # which kombu sets to None when it closes the channel, and a web process's producer could be publishing on it
        # at that moment (seen under gunicorn's threads: the post was saved, its check not queued).
        self._database = connection.client.hostname

    def _get_or_create(self, queue):
        """kombu's, for a queue another process creates at the same moment too (web processes' first posts,
        workers starting together): the loser of that race finds the winner's row instead of failing."""
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            self.session.rollback()
            return super()._get_or_create(queue)

    def _queue_id(self, queue):
        if queue not in self._queue_ids:
            # kombu's _get_or_create hands back an unsaved row when the database refused it (locked, say): a message
            # stored under no queue would be read by no worker, so the publish fails (and the sweep sends it again).
            found = self._get_or_create(queue).id
            if found is None:
                raise OperationalError(f"the queue {queue!r} could not be created in the embedded broker")
            self._queue_ids[queue] = found
        return self._queue_ids[queue]

    def _open(self):
        if self.connection is None and self._database in self._engines:
            return self._engines[self._database]
        return super()._open()

    def _put(self, queue, payload, **kwargs):
        engine, _ = self._open()
        with engine.begin() as connection:
            connection.execute(self.message_cls.__table__.insert().values(queue_id=self._queue_id(queue),
                                                                          payload=dumps(payload)))


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel
    polling_interval = POLLING_SECONDS

    def drain_events(self, connection, timeout=None):
        """kombu's loop (virtual.Transport.drain_events), with the sleep chosen by why nothing came."""
        started = monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise socket.timeout() from None
                wait = BUSY_POLLING_SECONDS if self._busy() else self.polling_interval
                sleep(min(wait, timeout) if timeout else wait)

    def _busy(self):
        """Whether a consumer is waiting for its own tasks to finish (the queue may well hold more)."""
        return any(channel._consumers and not channel.qos.can_consume() for channel in self.channels)


def register():
    """`sqla+…` broker URLs use this transport in this process (the web app's and the workers' alike)."""
    TRANSPORT_ALIASES["sqla"] = f"{__name__}:Transport"
