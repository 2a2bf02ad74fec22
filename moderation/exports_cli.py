"""`moderation export json FILE [--with-emails]`: the whole site as one JSON document (moderation/exports.py)."""
import io
import os
import stat
import sys
import tempfile

import click
from flask.cli import with_appcontext

from . import exports
from .privacy.crypto import DataKeyError

export = click.Group("export", help="Write everything the site holds to a file, to keep or to move.")


@export.command("json")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--with-emails", is_flag=True,
              help="include the commenters' email addresses (recorded as a privacy event)")
@with_appcontext
def export_json(path, with_emails):
    """Write the whole site as one JSON document to FILE (`-`: standard output).

    Threads, comments with their states, the audit history, moderators' names and roles, and the ids imports
    remember. Emails (and the subscribers' confirmations) only with --with-emails; never an IP address or a
    password hash. FILE appears whole or not at all, readable by its owner only."""
    _refuse_unless_a_file(path)
    with _progress(exports.count_items(with_emails)) as bar:
        try:
            counts = _written(path, lambda stream: exports.write_json(
                stream, with_emails=with_emails, destination=path, on_progress=bar.update))
        except DataKeyError as error:
            raise click.ClickException(f"the emails cannot be read: {error}") from None
        except OSError as error:
            raise click.ClickException(f"cannot write {path}: {error.strerror or error}") from None
    where = "standard output" if path == "-" else path
    click.echo(f"Exported {_many(counts['threads'], 'thread')}, {_many(counts['comments'], 'comment')}"
               f"{' with their emails' if with_emails else ''}, {_many(counts['audit_events'], 'audit event')}, "
               f"{_many(counts['moderators'], 'moderator')} and {_many(counts['imported'], 'imported id')} to {where}.",
               err=True)


def _refuse_unless_a_file(path):
    """FILE is replaced by a new file when the export is complete: what is there must be a file to replace, not a
    device, a pipe, a folder or a link (replacing /dev/null would break the machine)."""
    if path == "-":
        return
    try:
        kind = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(kind):
        raise click.ClickException(f"{path} is not a regular file; the export replaces FILE whole, so give the name "
                                   "of a file (or `-` for standard output, to send it anywhere else).")


def _many(count, thing):
    return f"{count} {thing}{'' if count == 1 else 's'}"


def _written(path, write):
    """Run `write(stream)` on standard output, or on a temporary file renamed to `path` once it is complete: a
    failed export leaves no half file that looks whole. The file is the owner's alone (mode 0600): it holds
    unpublished comments and moderators' notes, and with --with-emails every address."""
    if path == "-":
        # UTF-8 whatever the terminal's locale says: the document is JSON, and JSON is UTF-8.
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            return write(stream)
        finally:
            stream.flush()
            stream.detach()
    folder, name = os.path.split(os.path.abspath(path))
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            result = write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return result


def _progress(length):
    """A progress bar on a terminal (items written); nothing in a pipe or a log, as the imports' bar."""
    return click.progressbar(length=length, label="Exporting", file=sys.stderr, show_pos=True,
                             hidden=not sys.stderr.isatty())
