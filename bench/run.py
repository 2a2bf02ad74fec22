"""`make bench`: every benchmark in turn, then the report; a failure does not stop the others, but the exit status.

Usage: python bench/run.py [--data DIR] [--quick] [--only NAMES] [--skip NAMES] [--args NAME=ARGS ...]

Runs bench/spam.py, pipeline.py, durability.py, imports.py, memory.py, web.py and console.py (those that exist) in that order, each in a
process of its own, then bench/report.py, which says where the table and the charts are. DIR (the labelled data,
default ../shared/data) goes to the benchmarks that read it. --quick asks each for a run of a few minutes: their
own --quick, or smaller sizes for web.py and console.py. --args passes more arguments to one benchmark, e.g.
--args console="--backends sqlite". Exits non-zero, naming them, when any benchmark or the report failed; on
Ctrl-C the running benchmark stops and cleans up (it gets the same signal), and nothing more runs.
"""
import argparse
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
BENCHMARKS = ("spam", "pipeline", "durability", "imports", "memory", "web", "console")
READS_DATA = ("spam", "pipeline", "memory")
# Their own --quick for the benchmarks of this folder that have one; sizes for those that do not.
QUICK = {"spam": ["--quick"], "pipeline": ["--quick"], "durability": ["--quick"], "imports": ["--quick"],
         "memory": ["--quick"],
         "web": ["--seconds", "3", "--rounds", "1"],
         "console": ["--comments", "100000", "--requests", "50", "--seconds", "5"]}


def command(name, args):
    """The benchmark's command line: the data folder first, then the quick sizes, then the extra arguments."""
    line = [sys.executable, str(BENCH / f"{name}.py")]
    if name in READS_DATA:
        line.append(str(args.data))
    if args.quick:
        line += QUICK[name]
    return line + shlex.split(args.extra.get(name, ""))


def run(line):
    """Run one step to its end: its exit status. Ctrl-C reaches it too, and it is left to finish cleaning up;
    a SIGTERM to this script is passed on to it."""
    print(f"\n=== {shlex.join(line)}", flush=True)
    step = subprocess.Popen(line, cwd=ROOT)
    try:
        return step.wait()
    except KeyboardInterrupt:
        step.wait()
        raise
    except SystemExit:
        step.terminate()
        step.wait()
        raise


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding youtube-spam/*.csv")
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes, smaller sizes everywhere")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="which benchmarks, comma-separated")
    parser.add_argument("--skip", default="", help="benchmarks not to run, comma-separated")
    parser.add_argument("--args", action="append", default=[], metavar="NAME=ARGS",
                        help="more arguments for one benchmark (repeatable)")
    args = parser.parse_args()
    wanted = {name for name in args.only.split(",") if name} - {name for name in args.skip.split(",") if name}
    args.extra = dict(item.split("=", 1) for item in args.args if "=" in item)
    unknown = (wanted | set(args.extra)) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; there are {', '.join(BENCHMARKS)}")
    args.benchmarks = [name for name in BENCHMARKS if name in wanted]
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed, took = [], {}
    for name in args.benchmarks:
        if not (BENCH / f"{name}.py").exists():
            print(f"\n=== {name}: bench/{name}.py does not exist yet, skipped", flush=True)
            continue
        started = time.monotonic()
        try:
            if run(command(name, args)):
                failed.append(name)
        except KeyboardInterrupt:
            print(f"\ninterrupted during {name}, which has cleaned up; nothing more runs", file=sys.stderr)
            sys.exit(130)
        took[name] = time.monotonic() - started
    if run([sys.executable, str(BENCH / "report.py")]):
        failed.append("report")
    print("took: " + "; ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in took.items()))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
