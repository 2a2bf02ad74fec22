"""Importing WordPress, Disqus and Isso exports: comments per second, and the peak memory of the import for two sizes of file.

Usage: python bench/imports.py [--posts 2000] [--comments 10] [--quick] [--source wxr|disqus|isso|all]

Writes two WXR files in a scratch folder, one a tenth of the other (--posts posts of --comments comments each,
every second one a reply, with text, names, emails and addresses of their own), then runs
`moderation import wxr` on each in a process of its own, on a fresh SQLite database, and reports the file's size,
the comments imported, the seconds, and the process's peak RSS. The import reads one post at a time, so the peak
should not grow with the file. Writes the section "imports" of bench/results/latest.json.

`--source disqus` writes a Disqus export of the same comments instead (every thread, then the posts of all threads
interleaved, as Disqus orders them), `--source isso` an Isso database; their figures go to the sections
"imports-disqus" and "imports-isso". Without --source, all three run in turn.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from results import record  # noqa: E402

HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>Bench blog</title><link>https://bench.example.org</link>
<wp:wxr_version>1.2</wp:wxr_version><wp:base_site_url>https://bench.example.org</wp:base_site_url>
"""


def write_export(path, posts, comments):
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEAD)
        serial = 0
        for post in range(posts):
            out.write(f"<item><title>Post {post}</title><link>https://bench.example.org/post-{post}/</link>"
                      f"<content:encoded><![CDATA[<p>{'Words. ' * 200}</p>]]></content:encoded>"
                      f"<wp:post_id>{post + 1}</wp:post_id><wp:post_name>post-{post}</wp:post_name>"
                      "<wp:post_type>post</wp:post_type>\n")
            first = serial + 1
            for n in range(comments):
                serial += 1
                parent = first if n % 2 else 0
                text = escape(f"Comment {serial} on post {post}: " + "the soil was colder than last year, " * 8)
                out.write(f"<wp:comment><wp:comment_id>{serial}</wp:comment_id>"
                          f"<wp:comment_author>Reader {serial % 997}</wp:comment_author>"
                          f"<wp:comment_author_email>reader-{serial % 997}@example.org</wp:comment_author_email>"
                          f"<wp:comment_author_url></wp:comment_author_url>"
                          f"<wp:comment_author_IP>192.0.2.{serial % 250}</wp:comment_author_IP>"
                          f"<wp:comment_date_gmt>2026-0{1 + serial % 9}-1{serial % 9} 10:00:00</wp:comment_date_gmt>"
                          f"<wp:comment_content>{text}</wp:comment_content>"
                          f"<wp:comment_approved>{'1' if serial % 10 else 'spam'}</wp:comment_approved>"
                          f"<wp:comment_type>comment</wp:comment_type><wp:comment_parent>{parent}</wp:comment_parent>"
                          "</wp:comment>\n")
            out.write("</item>\n")
        out.write("</channel></rss>\n")
    return posts * comments


def write_disqus(path, posts, comments):
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com" '
                  'xmlns:dsq="http://disqus.com/disqus-internals">\n')
        for post in range(posts):
            out.write(f'<thread dsq:id="{post + 1}"><id>post-{post}</id><forum>bench</forum>'
                      f"<link>https://bench.example.org/post-{post}/</link><title>Post {post}</title>"
                      "<createdAt>2026-01-01T10:00:00Z</createdAt><isClosed>false</isClosed>"
                      "<isDeleted>false</isDeleted></thread>\n")
        for n in range(comments):  # the posts of every thread interleaved, as Disqus writes them
            for post in range(posts):
                serial = post * comments + n + 1
                parent = f'<parent dsq:id="{post * comments + 1}"/>' if n % 2 else ""
                text = escape(f"Comment {serial} on post {post}: " + "the soil was colder than last year, " * 8)
                out.write(f'<post dsq:id="{serial}"><id/><message><![CDATA[<p>{text}</p>]]></message>'
                          f"<createdAt>2026-0{1 + serial % 9}-1{serial % 9}T10:00:00Z</createdAt>"
                          f"<isDeleted>false</isDeleted><isSpam>{'false' if serial % 10 else 'true'}</isSpam>"
                          f"<author><email>reader-{serial % 997}@example.org</email><name>Reader {serial % 997}</name>"
                          f"<isAnonymous>true</isAnonymous></author><ipAddress>192.0.2.{serial % 250}</ipAddress>"
                          f'<thread dsq:id="{post + 1}"/>{parent}</post>\n')
        out.write("</disqus>\n")
    return posts * comments


ISSO_SCHEMA = """
CREATE TABLE preferences (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
CREATE TABLE comments (tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER, created FLOAT NOT NULL,
    modified FLOAT, mode INTEGER, remote_addr VARCHAR, text VARCHAR NOT NULL, author VARCHAR, email VARCHAR,
    website VARCHAR, likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, voters BLOB NOT NULL,
    notification INTEGER DEFAULT 0);
INSERT INTO preferences VALUES ('session-key', 'bench');
"""


def write_isso(path, posts, comments):
    with sqlite3.connect(path) as connection:
        connection.executescript(ISSO_SCHEMA)
        connection.executemany("INSERT INTO threads VALUES (?, ?, ?)",
                               ((post + 1, f"/post-{post}/", f"Post {post}") for post in range(posts)))
        connection.executemany(
            "INSERT INTO comments (tid, id, parent, created, mode, remote_addr, text, author, email, voters) "
            "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, zeroblob(256))",
            ((post + 1, post * comments + n + 1, post * comments + 1 if n % 2 else None, 1767261600.0 + n,
              f"192.0.2.{n % 250}", f"Comment {n} on post {post}: " + "the soil was colder than last year, " * 8,
              f"Reader {n % 997}", f"reader-{n % 997}@example.org")
             for post in range(posts) for n in range(comments)))
    connection.close()
    return posts * comments


WRITERS = {"wxr": (write_export, "xml", "WordPress"), "disqus": (write_disqus, "xml", "Disqus"),
           "isso": (write_isso, "db", "Isso")}


def run_import(export, folder, source="wxr"):
    env = {**os.environ, "MODERATION_ENV": "testing", "MODERATION_INSTANCE_PATH": str(folder),
           "DATABASE_URL": f"sqlite:///{folder / 'import.sqlite3'}"}
    subprocess.run([sys.executable, "-m", "moderation.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, source, str(export)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"the import failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, int(done.stdout.strip().splitlines()[-1]), done.stdout


# The import in this process, then its peak RSS in KiB on the last line.
PEAK = """
import resource, sys
from moderation.cli import cli
try:
    cli.main(["import", sys.argv[1], sys.argv[2]], standalone_mode=False)
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--comments", type=int, default=10, help="comments per post")
    parser.add_argument("--quick", action="store_true", help="500 posts")
    parser.add_argument("--source", choices=[*sorted(WRITERS), "all"], default="all",
                        help="the format imported (all: WordPress, Disqus and Isso in turn)")
    args = parser.parse_args()
    if args.quick:
        args.posts = 500
    for source in (("wxr", "disqus", "isso") if args.source == "all" else (args.source,)):
        measure(source, args.posts, args.comments)


def measure(source, posts_large, comments):
    """Import a small export and one ten times larger of `source`, and record both."""
    write, extension, label = WRITERS[source]
    print(f"{label}:", flush=True)
    figures = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for size, posts in (("small", max(posts_large // 10, 1)), ("large", posts_large)):
            export = folder / f"{size}.{extension}"
            count = write(export, posts, comments)
            run = folder / size
            run.mkdir()
            seconds, peak_kib, output = run_import(export, run, source)
            figures[size] = {"posts": posts, "comments": count, "file_mb": round(export.stat().st_size / 2**20, 1),
                             "seconds": round(seconds, 1), "comments_per_second": round(count / seconds),
                             "peak_rss_mb": round(peak_kib / 1024, 1)}
            print(f"  {size}: {count:,} comments in {posts:,} posts, {figures[size]['file_mb']} MB: "
                  f"{seconds:.1f} s ({figures[size]['comments_per_second']}/s), peak RSS "
                  f"{figures[size]['peak_rss_mb']} MB", flush=True)
            if f"Imported from {label}: {count} comments" not in output:
                raise SystemExit(f"not every comment was imported:\n{output[-1500:]}")
    record("imports" if source == "wxr" else f"imports-{source}", figures)


if __name__ == "__main__":
    main()
