"""The `moderation` command: Flask's CLI group bound to the app factory, plus our own commands."""
import getpass
import json
import os
import stat
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from config import ConfigError, new_data_key, private_folder

from . import create_app, leases, metrics, webserver
from .api import tokens as api_tokens
from .comments import services as comments
from .exports_cli import export
from .queue import training_queue, webhooks_queue
from .review import services as review
from .supervise import run_children

# waitress is one process: its threads are all it has to answer with.
WAITRESS_THREADS = 8

def _create_app():
    """The app, or one sentence naming the setting that is missing or wrong (no traceback)."""
    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli():
    """Comment moderation: run `moderation db upgrade`, then `moderation serve`."""


cli.add_command(export)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="PORT", help="or the PORT environment variable")
@click.option("--workers", type=int, default=None, envvar="MODERATION_WEB_WORKERS",
              help="web processes  [default: two per core, 2 to 8; or MODERATION_WEB_WORKERS]")
@click.option("--threads", default=webserver.THREADS, show_default=True, help="threads per web process")
@click.option("--concurrency", default=2, show_default=True, help="Celery worker processes")
@click.option("--demo-site", "demo_site", type=int, default=None, envvar="DEMO_SITE_PORT",
              help="also serve a demo article of 'another site' on http://localhost:PORT that embeds the widget")
@with_appcontext
def serve(host, port, workers, threads, concurrency, demo_site):
    """Web server, a Celery worker and the scheduler, in the foreground; Ctrl-C stops all of them."""
    os.umask(0o077)
    private_folder(current_app.instance_path)
    # Every process started here counts its events in one folder, and the web's /metrics adds them up.
    metrics.prepare_folder(current_app.instance_path)
    python = sys.executable
    children = {
        "web": [python, "-m", "moderation.cli", "web", "--host", host, "--port", str(port), "--threads", str(threads),
                "--workers", str(workers or webserver.default_workers())],
        "worker": [python, "-m", "celery", "-A", "workers", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency)],
        # Retraining has a queue and a process of its own: the checks never wait for it.
        "training worker": [python, "-m", "celery", "-A", "workers", "worker", "--loglevel", "INFO", "--concurrency", "1",
                            "--queues", training_queue(current_app.config), "--hostname", "training@%h"],
        # So have webhooks: a receiver that hangs never holds up a check.
        "webhooks worker": [python, "-m", "celery", "-A", "workers", "worker", "--loglevel", "INFO", "--concurrency", "1",
                            "--queues", webhooks_queue(current_app.config), "--hostname", "webhooks@%h"],
        "scheduler": [python, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO"],
    }
    click.echo(f"Serving on http://{host}:{port}/ with a Celery worker, a training worker, a webhooks worker and the "
               "scheduler. Ctrl-C stops all.")
    if demo_site:
        service = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        children["demo site"] = [python, "-m", "moderation.cli", "demo-site", "--port", str(demo_site),
                                 "--service", service]
        click.echo(f"A demo article of another site, with the widget, on http://localhost:{demo_site}/")
    sys.exit(run_children(children))


@cli.command("demo-site")
@click.option("--port", default=5001, show_default=True)
@click.option("--service", default="http://127.0.0.1:5000", show_default=True, help="where the comment service runs")
@with_appcontext
def demo_site(port, service):
    """A static article of 'another site' on http://localhost:PORT that embeds the widget from the service."""
    from flask import render_template

    from .demo import DEMO_KEY, page_server

    site = f"http://localhost:{port}"
    if site not in current_app.config["MODERATION_ALLOWED_ORIGINS"]:
        click.echo(f"Note: {site} is not in MODERATION_ALLOWED_ORIGINS, so the service will refuse its widget.",
                   err=True)
    page = render_template("demo_site.html", site=site, service=service.rstrip("/"), key=DEMO_KEY,
                           title="Hello, world: comments are open").encode()

    server = page_server(port, lambda path: page)
    click.echo(f"Demo article on {site}/ (the comments come from {service})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="PORT", help="or the PORT environment variable")
@click.option("--workers", type=int, default=None, envvar="MODERATION_WEB_WORKERS",
              help="web processes  [default: two per core, 2 to 8; or MODERATION_WEB_WORKERS]")
@click.option("--threads", type=int, default=None,
              help=f"threads per web process  [default: {webserver.THREADS}; waitress: {WAITRESS_THREADS}]")
@click.option("--server", type=click.Choice(["gunicorn", "waitress"]), default="gunicorn", show_default=True,
              help="waitress: one process that reads each request whole before a thread sees it")
@with_appcontext
def web(host, port, workers, threads, server):
    """The web app alone: gunicorn, one process per half core (put a buffering TLS proxy in front in production)."""
    metrics.prepare_folder(current_app.instance_path)
    if server == "gunicorn":
        webserver.serve(create_app, host, port, workers or webserver.default_workers(), threads or webserver.THREADS)
        return
    threads = threads or WAITRESS_THREADS
    from waitress import serve as waitress_serve

    app = current_app._get_current_object()
    waitress_serve(app, host=host, port=port, threads=threads, ident="moderation", connection_limit=1000,
                   channel_timeout=30, clear_untrusted_proxy_headers=not app.config["MODERATION_PROXY_HOPS"],
                   # Up to twice the app's own limit the reader gets its explanation; beyond, nothing is read.
                   max_request_body_size=2 * app.config["MAX_CONTENT_LENGTH"])


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


@moderators.command("password")
@click.argument("name")
@with_appcontext
def moderator_password(name):
    """Set a moderator's password (read from standard input); every sign-in of theirs ends."""
    moderator = review.find_moderator(name)
    if moderator is None:
        raise click.ClickException(f"There is no moderator named {name!r}.")
    try:
        review.change_password(moderator, _read_password())
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password of {name!r} changed; every browser signed in as {name!r} has been signed out.")


@cli.group()
def tokens():
    """API tokens for scripts and integrations (Authorization: Bearer)."""


@tokens.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(api_tokens.SCOPES), required=True,
              help="read: the queue; moderate: also decisions; admin: everything")
@with_appcontext
def create_token(name, scope):
    """Create a token and print it, this once: only its hash is kept."""
    try:
        token, _ = api_tokens.create_token(name, scope)
    except (api_tokens.TokenError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(token)
    click.echo(f"Token {name!r} ({scope}) created. It is shown only now: keep it somewhere safe.", err=True)


@tokens.command("list")
@with_appcontext
def list_tokens():
    """Every token: name, scope, when created and last used, whether revoked (never the token itself)."""
    rows = api_tokens.list_tokens()
    if not rows:
        click.echo("No tokens yet: `moderation tokens create NAME --scope read|moderate|admin`.")
    for row in rows:
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if row.last_used_at else "never"
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "live"
        click.echo(f"{row.name}\t{row.scope}\tcreated {row.created_at:%Y-%m-%d}\tlast used {used}\t{state}")


@tokens.command("revoke")
@click.argument("name")
@with_appcontext
def revoke_token(name):
    """Revoke a token at once; its past decisions stay in the history under its name."""
    try:
        api_tokens.revoke_token(name)
    except api_tokens.TokenError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Token {name!r} revoked.")


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
    try:
        thread = comments.create_thread(key, title, url)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Thread {thread.key!r} ready at /threads/{thread.key}")


def _regular_file(context, parameter, path):
    """An export to read must be a file: a pipe or a device would keep the import waiting, or reading, for ever."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise click.BadParameter(f"{path} is not a regular file; save the export to a file first.")
    return path


@cli.group("import")
def import_():
    """Bring the comments a site already has from WordPress, Disqus or Isso. Run again, an import adds only what
    it did not add before."""


@import_.command("wxr")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), callback=_regular_file)
@click.option("--train", is_flag=True, help="offer the approved and spam comments to the spam model as examples")
@click.option("--key", "key", type=click.Choice(["slug", "id"]), default="slug", show_default=True,
              help="a thread's key: the post's slug (what its address ends with) or wordpress-ID (its id); what "
                   "the site's pages give the widget as data-thread")
@with_appcontext
def import_wxr(path, train, key):
    """A WordPress export (Tools > Export > All content): posts become threads, their comments ours."""
    from .imports import store, wxr

    writer = store.Writer(wxr.SOURCE, train=train)
    with open(path, "rb") as stream:
        _import(writer, "WordPress", os.path.getsize(path),
                lambda bar: wxr.read(stream, writer, key=key, on_progress=_advancer(stream, bar)),
                wxr.BadExport, path, "Every whole post before it was imported; once the file is mended, run the "
                "import again: it adds only what is missing.")


@import_.command("disqus")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), callback=_regular_file)
@click.option("--train", is_flag=True, help="offer the approved and spam comments to the spam model as examples")
@click.option("--key", "key", type=click.Choice(["identifier", "link"]), default="identifier", show_default=True,
              help="a thread's key: its Disqus identifier (else its address's path), or its address's path (else "
                   "its identifier); what the site's pages give the widget as data-thread")
@with_appcontext
def import_disqus(path, train, key):
    """A Disqus export (the XML file Disqus emails when its admin is asked for one): threads become threads, posts
    our comments. The file is checked whole first: one broken anywhere writes nothing."""
    from .imports import disqus, store

    writer = store.Writer(disqus.SOURCE, train=train)
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        with _progress(size, "Checking") as bar:
            try:
                pages = disqus.read_threads(stream, key=key, on_progress=_advancer(stream, bar))
            except disqus.BadExport as error:
                raise click.ClickException(f"{path}: {error}. Nothing was imported (a Disqus export is checked "
                                           "whole first); once the file is mended, run the import again.") from None
        stream.seek(0)
        _import(writer, "Disqus", size,
                lambda bar: disqus.read_posts(stream, pages, writer, on_progress=_advancer(stream, bar)),
                disqus.BadExport, path, "The comments before it were imported; run the import again: it adds only "
                "what is missing.")


def _site_address(context, parameter, value):
    if value and not value.lower().startswith(("http://", "https://")):
        raise click.BadParameter("give the site's address, starting with https:// (or http://)")
    return value


@import_.command("isso")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), callback=_regular_file)
@click.option("--train", is_flag=True, help="offer the approved comments to the spam model as examples")
@click.option("--site", callback=_site_address, default=None,
              help="the site Isso served (https://blog.example.org): each thread's address is its path there")
@with_appcontext
def import_isso(path, train, site):
    """An Isso database (the SQLite file its `[general] dbpath` names), read-only: threads become threads, keyed
    by their path percent-encoded as the Isso-compatible endpoints name them (/blog/hi/ is %2Fblog%2Fhi%2F)."""
    from contextlib import closing

    from .imports import isso, store

    try:
        connection, threads = isso.connect(path)
    except isso.BadExport as error:
        raise click.ClickException(f"{path}: {error}. Nothing was imported.") from None
    writer = store.Writer(isso.SOURCE, train=train)
    with closing(connection):
        _import(writer, "Isso", threads,
                lambda bar: isso.read(connection, writer, site=site, on_progress=lambda: bar.update(1)),
                isso.BadExport, path, "Every whole thread before it was imported; once the database is mended, run "
                "the import again: it adds only what is missing.")


def _import(writer, label, length, read, broken, path, kept):
    """`read(bar)` under a progress bar of `length`, then the summary; when it raises `broken`, the summary, then the
    error and what was `kept`."""
    try:
        with _progress(length, "Importing") as bar:
            read(bar)
    except broken as error:
        _summarize(writer, label)
        raise click.ClickException(f"{path}: {error}. {kept}") from None
    _summarize(writer, label)


def _summarize(writer, label):
    for line in writer.finish().lines(label):
        click.echo(line)


def _advancer(stream, bar):
    """What a reader calls after each part it read: the bar moves to where the file has been read to."""
    last = stream.tell()

    def advanced():
        nonlocal last
        position = stream.tell()
        bar.update(position - last)
        last = position

    return advanced


def _progress(length, label):
    """A progress bar on a terminal (through the file by bytes, or the threads); nothing in a pipe or a log."""
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=False,
                             hidden=not sys.stderr.isatty())


@cli.command()
@click.option("--comments", type=click.IntRange(min=1), default=None,
              help="also N synthetic comments over about N/500 articles, inserted in bulk (for benchmarks)")
@with_appcontext
def demo(comments):
    """Add the demo article, and a moderator `demo` if there is none yet (its password is printed once).

    With --comments, also N synthetic comments (10% held, 80% approved, 8% spam, 2% rejected); a second run
    adds nothing and says so."""
    from .demo import seed, seed_comments

    for line in seed():
        click.echo(line)
    if comments:
        for line in seed_comments(comments, progress=click.echo):
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
    from .spam.learning import import_examples

    texts, labels, authors = _examples(csv_path)
    started = time.perf_counter()
    import_examples(f"csv:{Path(csv_path).name}", texts, labels, authors)
    version = _retrain("train")
    if version is None:
        raise click.ClickException("training needs both spam (1) and not-spam (0) examples")
    click.echo(json.dumps({"version": version.id, "examples": version.examples, "spam_examples": version.spam_examples,
                           "seconds": round(time.perf_counter() - started, 2)}))


def _retrain(source):
    """A new model version from every stored example, or a sentence when another retraining holds the lease."""
    from .spam.learning import retrain_if_due

    try:
        return retrain_if_due(source, force=True)
    except leases.Busy:
        raise click.ClickException("another retraining is running (a worker, or this command elsewhere); try again "
                                   "when it is done: it takes a few seconds to a few minutes") from None


@spam.command("evaluate")
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--online", is_flag=True, help="score a batch, then learn its labels, as moderators' decisions teach it")
@click.option("--batch", default=25, show_default=True, help="comments per batch with --online")
@with_appcontext
def spam_evaluate(csv_path, online, batch):
    """Print one JSON object: n, accuracy, precision, recall, f1, mcc, roc_auc, and the spam threshold's figures."""
    from .spam import evaluation, settings
    from .spam.store import ModelUnavailable, current_model

    texts, labels, authors = _examples(csv_path)
    try:
        model = current_model()
    except ModelUnavailable as error:
        raise click.ClickException(f"the spam model is unavailable: {error}; `moderation spam retrain` makes a "
                                   "new version from the stored examples") from None
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
    version = _retrain("retrain")
    if version is None:
        raise click.ClickException("no model trained: the stored examples need both spam and not-spam ones")
    click.echo(f"Spam model version {version.id} trained on {version.examples} examples ({version.spam_examples} spam).")


@cli.group()
def privacy():
    """Personal-data requests: export or erase everything stored about one email address."""


@privacy.command("export")
@click.argument("email")
@with_appcontext
def privacy_export(email):
    """Print one JSON document: every comment of EMAIL with its personal data, and their histories."""
    from .privacy.services import export_person

    click.echo(json.dumps(export_person(email), indent=2, ensure_ascii=False))


@privacy.command("erase")
@click.argument("email")
@click.option("--with-text", is_flag=True, help="remove the comments' text too")
@with_appcontext
def privacy_erase(email, with_text):
    """Remove EMAIL's address, name, website, IP and user agent from every comment (recorded, without them)."""
    from .privacy.services import erase_person

    ids = erase_person(email, with_text=with_text)
    what = "personal data and text" if with_text else "personal data"
    click.echo(f"Erased the {what} of {len(ids)} comment{'s' if len(ids) != 1 else ''}"
               + (f": {', '.join(map(str, ids))}." if ids else "."))


@cli.group()
def keys():
    """The data key that encrypts personal data at rest."""


@keys.command("generate")
def keys_generate():
    """Print a new random key for MODERATION_DATA_KEY."""
    click.echo(new_data_key())


@keys.command("rotate")
@with_appcontext
def keys_rotate():
    """Re-encrypt every stored email (and IP, user agent, referrer) under a new key."""
    from .privacy import services as privacy_services

    app = current_app._get_current_object()
    key_file, keys_now = app.config["MODERATION_DATA_KEY_FILE"], app.config["MODERATION_DATA_KEYS"]
    if key_file is None and len(keys_now) < 2:
        raise click.ClickException(
            "MODERATION_DATA_KEY holds one key. Put a new one first, then the old one: "
            "MODERATION_DATA_KEY=NEW,OLD (`moderation keys generate` prints a key), and run this again; "
            "when it has finished, remove OLD.")
    if key_file is not None:
        keys_now = (new_data_key(), *keys_now)
        _write_keys(key_file, keys_now)
        privacy_services.use_keys(app, keys_now)
    done = privacy_services.rotate_keys()
    if key_file is not None:
        _write_keys(key_file, keys_now[:1])
        click.echo(f"Re-encrypted {done} comments under a new key, kept in {key_file}.")
    else:
        click.echo(f"Re-encrypted {done} comments under the first key of MODERATION_DATA_KEY; "
                   "the others can be removed from it now.")


def _write_keys(path, keys_now):
    Path(path).write_text("\n".join(keys_now) + "\n")


if __name__ == "__main__":
    cli()
