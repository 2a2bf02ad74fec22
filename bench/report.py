"""The benchmarks' figures as Markdown tables, with each target and whether it is met, and as PNG charts.

Usage: python bench/report.py [--results bench/results/latest.json]

Reads what the benchmarks recorded (bench/results.py; sections web, pipeline, durability, imports, spam, memory, console, any of which
may be missing or come from an earlier run: each table says when it was measured) and writes latest.md and one
PNG per chart beside the JSON file. A section whose shape this script does not know is listed figure by figure
rather than left out, and a chart that cannot be drawn is named in the Markdown instead of stopping the report.
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend that needs no display)
from matplotlib import ticker  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
SECTIONS = ("web", "pipeline", "durability", "imports", "spam", "memory", "console")
# The issue's targets that the benchmarks do not record themselves (bench/web.py records its ratios' targets).
PIPELINE_TARGETS_MS = {"p50_ms": 100, "p99_ms": 500}
CONSOLE_TARGET_MS, CONSOLE_TARGET_COMMENTS = 30, 1_000_000
CONSOLE_TARGET_PAGES = ("held queue (HTML)", "held queue (JSON)")
WEB_SETUPS = {"sqlite": "SQLite + embedded broker", "postgresql": "PostgreSQL + Redis"}
CONSOLE_BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# The order tables and charts show things in: the embedded stack first, ours before the others, then what is unknown.
ORDER = ("sqlite", "postgresql", "redis", "rabbitmq", "form", "api", "floor", "bare", "html", "json", "widget")
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
TARGET_COLOUR = "#c0392b"
TARGET_COLOURS = (TARGET_COLOUR, "#7b241c", "#e67e22")
TARGET_STYLES = ("--", ":", "-.")
CONTENDERS = {"ours": ("this service", COLOURS[0]), "bare": ("the bare app (the least a post must do)", "#8c8c8c"),
              "floor": ("the floor of the stack (Flask, Flask-WTF, Flask-SQLAlchemy, Celery)", "#b5b5b5"),
              "peer": ("a peer (Isso, Waline)", COLOURS[1])}


# --- Markdown ------------------------------------------------------------------------------------------------------

def table(headers, rows):
    """A Markdown table; numbers right-aligned."""
    numeric = [all(row[i] is None or isinstance(row[i], (int, float)) or _is_number(row[i]) for row in rows)
               for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    return lines + ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]


def _is_number(text):
    try:
        float(str(text).replace(",", ""))
        return True
    except ValueError:
        return False


def _cell(value):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def ordered(mapping):
    """The items of a recorded dict (the JSON keeps its keys sorted) in ORDER, the unknown ones after."""
    rank = {key: i for i, key in enumerate(ORDER)}
    return sorted(mapping.items(), key=lambda item: (rank.get(item[0], len(ORDER)), item[0]))


def verdict(met):
    return {True: "met", False: "**not met**", None: "–"}[met]


def under(value, target):
    """Whether a time is under its target; None when it was not measured."""
    return None if value is None else value < target


def web_md(section):
    lines = []
    for setup, figures in ordered(section["setups"]):
        lines += [f"### {WEB_SETUPS.get(setup, setup)}", ""]
        lines += table(["load", "requests/s", "p50 ms", "p99 ms", "errors"],
                       [[load.get("label", key), _rps(load), load.get("p50_ms"), load.get("p99_ms"), load.get("errors")]
                        for key, load in ordered(_loads(figures))])
        ratios = figures.get("ratios") or {}
        if ratios:
            lines += ["", *table(["requests/s ratio", "measured", "target", "target met"],
                                 [[name, r.get("ratio"), None if r.get("target") is None else f"≥ {r['target']:g}",
                                   verdict(r.get("met"))] for name, r in ratios.items()])]
        for name, reason in (figures.get("not_measured") or {}).items():
            lines.append(f"\n{name}: not measured ({reason})")
        lines.append("")
    settings = section.get("settings") or {}
    if settings.get("command"):
        lines.append(f"Measured by `{settings['command']}`.")
    return lines


def _loads(figures):
    """{key: figures} of one web setup, whether it keeps them under "loads" or directly."""
    loads = figures.get("loads", {key: value for key, value in figures.items() if key not in ("ratios", "not_measured")})
    return {key: value for key, value in loads.items() if isinstance(value, dict)}


def _rps(load):
    return load.get("requests_per_s", load.get("rps"))


def pipeline_md(section):
    rows = []
    for _, stack in ordered(section["stacks"]):
        speed, late = stack["throughput"], stack["latency"]
        rows.append([stack.get("label"), speed.get("checks_per_second"), speed.get("task_ms_p50"),
                     late.get("p50_ms"), verdict(under(late.get("p50_ms"), PIPELINE_TARGETS_MS["p50_ms"])),
                     late.get("p99_ms"), verdict(under(late.get("p99_ms"), PIPELINE_TARGETS_MS["p99_ms"])),
                     late.get("max_ms"), late.get("insert_to_verdict_p50_ms"), f"{late.get('decided')}/{late.get('comments')}"])
    polling = section.get("embedded_polling_seconds")
    return [*table(["stack", "checks/s, one worker process", "check task p50 ms", "post→verdict p50 ms",
                    f"p50 < {PIPELINE_TARGETS_MS['p50_ms']} ms", "p99 ms", f"p99 < {PIPELINE_TARGETS_MS['p99_ms']} ms",
                    "max ms", "INSERT→verdict p50 ms", "decided"], rows), "",
            f"Post→verdict: from the start of the form's POST to the verdict's `checked_at`, a steady stream at "
            f"{section.get('rate_per_second')}/s with the worker `moderation serve` starts (--concurrency "
            f"{section.get('serve_concurrency')}). Checks/s: one worker process (--concurrency 1) on a backlog, first "
            f"verdict to last." + (f" The embedded broker is polled every {polling} s." if polling else "")]


def spam_md(section):
    lines = []
    quality = section.get("quality") or {}
    if quality:
        names = list(next(iter(quality.values()))["mean"])
        lines += ["Quality, trained on two videos and evaluated on the third, every way round (mean of the three):", ""]
        lines += table(["mode", *names], [[mode, *[r["mean"].get(n) for n in names]] for mode, r in quality.items()])
        lines.append("")
    checks, model = section.get("checks") or {}, section.get("model") or {}
    speed = [["one comment through every check, p50", checks.get("checks_ms_p50"), "ms"],
             ["the whole check_comment task (SQLite), p50", checks.get("task_ms_p50"), "ms"],
             ["model scoring, one comment at a time", model.get("one_at_a_time_us"), "µs per comment"],
             ["model scoring, in one batch", model.get("batch_us"), "µs per comment"],
             ["explaining a spam verdict", model.get("explain_us"), "µs per comment"]]
    speed += [[f"retraining on {int(size):,} examples", seconds, "s"]
              for size, seconds in _by_size(section.get("retrain_seconds") or {})]
    return lines + table(["speed", "value", "unit"], [row for row in speed if row[1] is not None])


def _by_size(seconds):
    """Retraining times, smallest example count first (the JSON keeps its keys as sorted text)."""
    return sorted(seconds.items(), key=lambda item: int(item[0]))


def memory_md(section):
    rows = []
    for name, key in (("gunicorn web worker (-w 1)", "web"), ("Celery worker (--concurrency 1)", "worker")):
        tree = section.get(key)
        if tree:
            child = tree.get("child") or {}
            rows.append([name, tree["parent"]["first_mb"], tree["parent"]["peak_mb"], tree["parent"].get("unique_mb_at_end"),
                         child.get("first_mb"), child.get("peak_mb"), child.get("unique_mb_at_end"), tree.get("children")])
    lines = table(["process tree", "parent at start MB", "parent peak MB", "parent's own at end MB", "child at start MB",
                   "child peak MB", "child's own at end MB", "children"], rows)
    web, worker = section.get("web") or {}, section.get("worker") or {}
    if web.get("requests"):
        lines += ["", "The web worker served " + ", ".join(f"{n} {kind}" for kind, n in web["requests"].items()) + "."]
    if worker.get("checked"):
        lines.append(f"The Celery worker checked {worker['checked']} comments and retrained once on "
                     f"{worker.get('trained_on'):,} examples (stack: {section.get('stack')}). RSS counts the pages a "
                     f"child shares with its parent; \"own\" is USS, what one more such process would cost.")
    return lines


def console_md(section):
    backends = dict(ordered(section["backends"]))
    pages = console_pages(backends)
    headers = ["page"] + [f"{CONSOLE_BACKENDS.get(b, b)} {what}" for b in backends for what in ("median ms", "p95 ms")]
    rows = [[page, *[cell for b in backends.values() for cell in _console_cells(b["figures"].get(page))]]
            for page in pages]
    lines = table(headers, rows)
    comments = section.get("comments")
    lines += ["", f"Target: the held queue's median under {CONSOLE_TARGET_MS} ms with {CONSOLE_TARGET_COMMENTS:,} "
                  f"comments; this run had {comments:,}." if comments else ""]
    for backend, figures in backends.items():
        for page in CONSOLE_TARGET_PAGES:
            median = (figures["figures"].get(page) or {}).get("median_ms")
            met = under(median, CONSOLE_TARGET_MS) if comments and comments >= CONSOLE_TARGET_COMMENTS else None
            lines.append(f"- {CONSOLE_BACKENDS.get(backend, backend)}, {page}: median {_cell(median)} ms, "
                         f"target {verdict(met) if met is not None else 'not judged (fewer comments than the target)'}")
    return lines


def console_pages(backends):
    """Every page timed on any backend, the target's pages first (the JSON keeps them sorted by name)."""
    pages = sorted({page for backend in backends.values() for page in backend["figures"]})
    return sorted(pages, key=lambda page: not page.startswith(CONSOLE_TARGET_PAGES))


def _console_cells(figure):
    return [figure.get("median_ms"), figure.get("p95_ms")] if figure else [None, None]


def flat_md(section):
    """Any section, figure by figure: what a reader still gets when its shape is unknown here."""
    return table(["figure", "value"], [[path, value] for path, value in _flatten(section)])


def _flatten(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "machine":
                yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (int, float, str, bool)) or value is None:
        yield path, value


RENDER = {"web": web_md, "pipeline": pipeline_md, "spam": spam_md, "memory": memory_md, "console": console_md}
TITLES = {"web": "Web: posting and reading under load", "pipeline": "The worker: checks per second and post to verdict",
          "durability": "No comment lost: posts through the form while a worker is killed and restarted",
          "imports": "Importing a WordPress export",
          "spam": "The spam model", "memory": "Memory", "console": "The moderators' console"}


def markdown(results, charts, failed_charts):
    lines = ["# Benchmark results", ""]
    machine = next((s["machine"] for s in results.values() if isinstance(s, dict) and s.get("machine")), None)
    if machine:
        lines += [f"Measured on {machine.get('cores')} cores ({machine.get('cpu')}), Python {machine.get('python')}, "
                  f"{machine.get('system')}.", ""]
    for name in [*SECTIONS, *(s for s in results if s not in SECTIONS)]:
        lines += [f"## {TITLES.get(name, name)}", ""]
        section = results.get(name)
        if not isinstance(section, dict):
            lines += ["Not measured (no such section in the results).", ""]
            continue
        lines += [f"Measured at {section.get('measured_at', 'an unknown time')}.", ""]
        try:
            lines += RENDER.get(name, flat_md)(section)
        except (KeyError, TypeError, AttributeError, ValueError, StopIteration) as error:
            lines += [f"(its shape is not the one expected here: {error!r}; every figure as recorded:)", "",
                      *flat_md(section)]
        lines += ["", *[f"![{title}]({file})" for file, title in charts.get(name, [])], ""]
    if failed_charts:
        lines += ["## Charts not drawn", "", *[f"- {name}: {why}" for name, why in failed_charts], ""]
    return "\n".join(lines)


# --- charts --------------------------------------------------------------------------------------------------------

def new_figure(title, panels=1, size=(6.4, 4.6), sharey=False):
    """`sharey` for panels of the same measure on different setups: bars of equal height mean equal values."""
    figure, axes = plt.subplots(1, panels, figsize=(size[0] * panels, size[1]), squeeze=False, sharey=sharey)
    figure.suptitle(title, fontsize=13, fontweight="bold")
    return figure, list(axes[0])


def save(figure, folder, name):
    figure.tight_layout()
    figure.savefig(folder / name, dpi=110)
    plt.close(figure)
    return name


def bars(ax, categories, series, unit, fmt="{:,.0f}", colours=None):
    """Side-by-side bars per category, one per series, each labelled with its value: {category: x position}.
    `colours`, one per category, colours a single series' bars."""
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(categories))]
        drawn = ax.bar(xs, [value or 0 for value in values], width * 0.95, label=name,
                       color=colours or COLOURS[i % len(COLOURS)])
        ax.bar_label(drawn, labels=["n/a" if value is None else fmt.format(value) for value in values],
                     fontsize=8, padding=2)
    ax.set_xticks(range(len(categories)), [_wrap(c) for c in categories], fontsize=8)
    ax.set_ylabel(unit)
    ax.margins(y=0.18)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper left")
    return {category: x for x, category in enumerate(categories)}


def _wrap(text, width=16):
    words, lines = str(text).split(), [""]
    for word in words:
        lines[-1:] = [f"{lines[-1]} {word}".strip()] if len(lines[-1]) + len(word) < width else [lines[-1], word]
    return "\n".join(lines)


def target_over_bar(ax, x, value, text, index):
    """A target as a line across one bar, told apart from the bar's other targets by its style, named in the legend."""
    ax.hlines(value, x - 0.45, x + 0.45, colors=TARGET_COLOURS[index % len(TARGET_COLOURS)],
              linestyles=TARGET_STYLES[index % len(TARGET_STYLES)], linewidth=2, label=text)


def web_throughput_chart(section, folder, kind):
    """Requests/s of the posting (or reading) loads, a panel per setup, with the targets the ratios set."""
    setups = ordered(section["setups"])
    figure, axes = new_figure(f"Web: {kind} throughput (gunicorn, {_web_settings(section)})", len(setups),
                              size=(7, 6.4), sharey=True)
    for ax, (setup, figures) in zip(axes, setups):
        loads = {key: load for key, load in ordered(_loads(figures)) if _kind(key, load) == kind}
        positions = bars(ax, [load.get("label", key) for key, load in loads.items()],
                         {"requests/s": [_rps(load) for load in loads.values()]}, "requests per second",
                         colours=[CONTENDERS[_contender(key)][1] for key in loads])
        ax.set_title(WEB_SETUPS.get(setup, setup), fontsize=10)
        everything, drawn = _loads(figures), 0
        for name, ratio in (figures.get("ratios") or {}).items():
            top, _, bottom = name.partition(" / ")
            if top in loads and bottom in everything and ratio.get("target") is not None and _rps(everything[bottom]):
                target_over_bar(ax, positions[loads[top].get("label", top)], ratio["target"] * _rps(everything[bottom]),
                                f"target for {loads[top].get('label', top)}: ≥ {ratio['target']:g} × "
                                f"{everything[bottom].get('label', bottom)} ({verdict(ratio.get('met')).strip('*')})",
                                drawn)
                drawn += 1
        handles = [Patch(color=colour, label=label) for name, (label, colour) in CONTENDERS.items()
                   if any(_contender(key) == name for key in loads)]
        targets = [handle for handle, label in zip(*ax.get_legend_handles_labels()) if label.startswith("target")]
        ax.legend(handles=handles + targets, fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False)
    return save(figure, folder, f"web_{kind}.png")


def _contender(key):
    """Whose load it is: ours (form, api, html, json, widget), the bare app's, the stack's floor, or a peer's."""
    return key if key in ("bare", "floor") else "peer" if "-" in key else "ours"


def _web_settings(section):
    settings = section.get("settings") or {}
    return ", ".join(f"{value} {name}" for name, value in (("workers", settings.get("workers")),
                                                          ("clients", settings.get("clients"))) if value)


def _kind(key, load):
    """"posting" or "reading", from the load's key (form, api, bare, *-post; html, json, widget, *-read)."""
    text = f"{key} {load.get('label', '')}".lower()
    return "posting" if key in ("form", "api", "bare", "floor") or "post" in text else "reading"


def web_latency_chart(section, folder):
    setups = ordered(section["setups"])
    figure, axes = new_figure("Web: latency of each load under load (p50 and p99)", len(setups), size=(7.5, 4.8),
                              sharey=True)
    for ax, (setup, figures) in zip(axes, setups):
        loads = dict(ordered(_loads(figures)))
        bars(ax, [load.get("label", key) for key, load in loads.items()],
             {"p50": [load.get("p50_ms") for load in loads.values()],
              "p99": [load.get("p99_ms") for load in loads.values()]}, "milliseconds")
        ax.set_title(WEB_SETUPS.get(setup, setup), fontsize=10)
    return save(figure, folder, "web_latency.png")


def pipeline_chart(section, folder):
    stacks = [stack for _, stack in ordered(section["stacks"])]
    labels = [stack.get("label") for stack in stacks]
    figure, (speed, late) = new_figure("The worker: spam checks through a real broker", 2)
    bars(speed, labels, {"checks/s": [s["throughput"].get("checks_per_second") for s in stacks]}, "checks per second")
    speed.set_title("Comments checked per second, one worker process", fontsize=10)
    bars(late, labels, {"p50": [s["latency"].get("p50_ms") for s in stacks],
                        "p99": [s["latency"].get("p99_ms") for s in stacks]}, "milliseconds")
    for (name, value), style in zip(PIPELINE_TARGETS_MS.items(), ("--", ":")):
        late.axhline(value, color=TARGET_COLOUR, linestyle=style, linewidth=1.4,
                     label=f"target {name.split('_')[0]} < {value} ms")
    late.set_ylim(top=max(late.get_ylim()[1], max(PIPELINE_TARGETS_MS.values()) * 1.15))
    late.legend(fontsize=8, loc="upper left")
    late.set_title(f"Post to verdict, {section.get('rate_per_second')} posts/s", fontsize=10)
    return save(figure, folder, "pipeline.png")


def spam_chart(section, folder):
    model, retrain = section.get("model") or {}, dict(_by_size(section.get("retrain_seconds") or {}))
    figure, (speed, training) = new_figure("The spam model: scoring and retraining", 2)
    bars(speed, ["scoring, one at a time", "scoring, in a batch", "explaining a spam verdict"],
         {"µs": [model.get("one_at_a_time_us"), model.get("batch_us"), model.get("explain_us")]},
         "microseconds per comment")
    speed.set_title("Per comment (the seed model)", fontsize=10)
    bars(training, [f"{int(size):,} examples" for size in retrain], {"s": list(retrain.values())}, "seconds",
         fmt="{:,.1f} s")
    training.set_title("One retraining (read, fit, serialise, store)", fontsize=10)
    return save(figure, folder, "spam.png")


def memory_chart(section, folder):
    names = {("web", "parent"): "gunicorn master", ("web", "child"): "gunicorn worker (serves)",
             ("worker", "parent"): "Celery main process", ("worker", "child"): "Celery pool process (checks, trains)"}
    processes = [(name, section[key][role]) for (key, role), name in names.items()
                 if section.get(key) and section[key].get(role)]
    figure, (ax,) = new_figure("Memory: resident set size of each process", size=(8, 4.6))
    bars(ax, [name for name, _ in processes], {"just started": [p["first_mb"] for _, p in processes],
                                                 "peak": [p["peak_mb"] for _, p in processes]}, "MB (RSS)")
    return save(figure, folder, "memory.png")


def console_chart(section, folder):
    backends = dict(ordered(section["backends"]))
    pages = [page for page in console_pages(backends) if "server time" not in page]
    figure, axes = new_figure(f"The moderators' console: median time per page ({section.get('comments', 0):,} comments)",
                              size=(10, 0.42 * len(pages) * len(backends) ** 0.5 + 2))
    ax, height = axes[0], 0.8 / len(backends)
    for i, (backend, figures) in enumerate(backends.items()):
        values = [(figures["figures"].get(page) or {}).get("median_ms") for page in pages]
        ys = [y + (i - (len(backends) - 1) / 2) * height for y in range(len(pages))]
        drawn = ax.barh(ys, [v or 0 for v in values], height * 0.95, label=CONSOLE_BACKENDS.get(backend, backend),
                        color=COLOURS[i % len(COLOURS)])
        ax.bar_label(drawn, labels=["n/a" if v is None else f"{v:,.1f}" for v in values], fontsize=7, padding=2)
    ax.set_yticks(range(len(pages)), pages, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("median milliseconds (log scale)")
    ax.axvline(CONSOLE_TARGET_MS, color=TARGET_COLOUR, linestyle="--", linewidth=1.4,
               label=f"target for the held queue: < {CONSOLE_TARGET_MS} ms")
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.set_axisbelow(True)
    ax.set_xlim(min(ax.get_xlim()[0], CONSOLE_TARGET_MS / 3), ax.get_xlim()[1] * 3)
    ax.legend(fontsize=8, loc="lower right")
    return save(figure, folder, "console.png")


CHARTS = {
    "web": (("posting requests per second", lambda s, f: web_throughput_chart(s, f, "posting")),
            ("reading requests per second", lambda s, f: web_throughput_chart(s, f, "reading")),
            ("web latency", web_latency_chart)),
    "pipeline": (("checks per second and post-to-verdict latency", pipeline_chart),),
    "spam": (("model speed and retraining time", spam_chart),),
    "memory": (("peak RSS", memory_chart),),
    "console": (("console pages", console_chart),),
}


def draw(results, folder):
    """({section: [(file, title)]}, [(chart, why it was not drawn)])."""
    drawn, failed = {}, []
    for name, charts in CHARTS.items():
        if not isinstance(results.get(name), dict):
            continue
        for title, chart in charts:
            try:
                drawn.setdefault(name, []).append((chart(results[name], folder), title))
            except (KeyError, TypeError, AttributeError, ValueError, StopIteration) as error:
                plt.close("all")
                failed.append((f"{name}: {title}", repr(error)))
    return drawn, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=LATEST, help="the JSON file bench/results.py writes")
    args = parser.parse_args()
    try:
        results = json.loads(args.results.read_text())
    except (OSError, ValueError) as error:
        sys.exit(f"cannot read {args.results}: {error}")
    folder = args.results.parent
    charts, failed = draw(results, folder)
    report = folder / "latest.md"
    report.write_text(markdown(results, charts, failed))
    print(f"table: {report}")
    print(f"charts: {', '.join(str(folder / file) for files in charts.values() for file, _ in files) or 'none'}")
    for name, why in failed:
        print(f"chart not drawn, {name}: {why}")


if __name__ == "__main__":
    main()
