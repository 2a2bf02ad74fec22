"""The `moderation` command: Flask's CLI group bound to the app factory, plus our own commands."""
import getpass
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from . import create_app
from .comments import services as comments
from .review import services as review
from .supervise import run_children


@click.group(cls=FlaskGroup, create_app=create_app)
def cli():
    """Comment moderation: run `moderation db upgrade`, then `moderation serve`."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--web-workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--concurrency", default=2, show_default=True, help="Celery worker processes")
@with_appcontext
def serve(host, port, web_workers, concurrency):
    """Web server, a Celery worker and the scheduler, in the foreground; Ctrl-C stops all three."""
    python = sys.executable
    children = {
        "web": [python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(web_workers), "moderation:create_app()"],
        "worker": [python, "-m", "celery", "-A", "workers", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency)],
        "scheduler": [python, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO"],
    }
    click.echo(f"Serving on http://{host}:{port}/ with a Celery worker and the scheduler. Ctrl-C stops all.")
    sys.exit(run_children(children))


@cli.group()
def moderators():
    """Manage the people who moderate."""


def _read_password():
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            raise click.ClickException("The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


@moderators.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="may also change settings")
@with_appcontext
def create_moderator(name, admin):
    """Create a moderator; the password is read from standard input."""
    try:
        review.create_moderator(name, _read_password(), is_admin=admin)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Moderator {name!r} created{' (administrator)' if admin else ''}.")


@cli.group()
def threads():
    """Manage the articles that take comments."""


@threads.command("create")
@click.argument("key")
@click.option("--title", required=True)
@click.option("--url", default=None)
@with_appcontext
def create_thread(key, title, url):
    """Register an article under KEY (or update its title and url)."""
    thread = comments.create_thread(key, title, url)
    click.echo(f"Thread {thread.key!r} ready at /threads/{thread.key}")


@cli.command()
@with_appcontext
def demo():
    """Add the demo article, and a moderator `demo` if there is none yet (its password is printed once)."""
    from .demo import seed

    for line in seed():
        click.echo(line)


if __name__ == "__main__":
    cli()
