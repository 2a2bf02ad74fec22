"""The `moderation` command: Flask's CLI group bound to the app factory, plus our own commands."""
import getpass
import json
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from config import ConfigError

from . import create_app
from .comments import services as comments
from .review import services as review
from .supervise import run_children


def _create_app():
    """The app, or one sentence naming the setting that is missing or wrong (no traceback)."""
    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_create_app)
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


@cli.group()
def spam():
    """Train and measure the spam model."""


def _examples(csv_path):
    from .spam.learning import ExamplesError, read_examples

    try:
        return read_examples(csv_path)
    except ExamplesError as error:
        raise click.ClickException(str(error)) from None


@spam.command("train")
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def spam_train(csv_path):
    """Store a labelled CSV's comments as examples and train a new model version on every example."""
    from .spam.learning import import_examples, retrain_if_due

    texts, labels, authors = _examples(csv_path)
    started = time.perf_counter()
    import_examples(f"csv:{Path(csv_path).name}", texts, labels, authors)
    version = retrain_if_due("train", force=True)
    if version is None:
        raise click.ClickException("training needs both spam (1) and not-spam (0) examples")
    click.echo(json.dumps({"version": version.id, "examples": version.examples, "spam_examples": version.spam_examples,
                           "seconds": round(time.perf_counter() - started, 2)}))


@spam.command("evaluate")
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--online", is_flag=True, help="score a batch, then learn its labels, as moderators' decisions teach it")
@click.option("--batch", default=25, show_default=True, help="comments per batch with --online")
@with_appcontext
def spam_evaluate(csv_path, online, batch):
    """Print one JSON object: n, accuracy, precision, recall, f1, mcc, roc_auc, and the spam threshold's figures."""
    from .spam import evaluation, settings
    from .spam.store import current_model

    texts, labels, authors = _examples(csv_path)
    model = current_model()
    if online:
        weight = current_app.config["MODERATION_DECISION_WEIGHT"]
        scores = evaluation.online_scores(model, texts, labels, authors, weight, batch)
    else:
        scores = model.scores(texts, authors)
    result = evaluation.report(labels, scores, settings.current()["spam_threshold"])
    result.update(model=model.info.get("version"), online=online)
    click.echo(json.dumps(result))


@spam.command("retrain")
@with_appcontext
def spam_retrain():
    """Rebuild the model from every stored example: imported CSVs and moderators' decisions."""
    from .spam.learning import retrain_if_due

    version = retrain_if_due("retrain", force=True)
    if version is None:
        raise click.ClickException("no model trained: the stored examples need both spam and not-spam ones")
    click.echo(f"Spam model version {version.id} trained on {version.examples} examples ({version.spam_examples} spam).")


if __name__ == "__main__":
    cli()
