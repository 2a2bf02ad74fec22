"""After `mutmut run`: the mutation score per module and overall, and every mutant the tests let live."""
import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict

# Caught: a test failed, or the mutant made the tests run so long that they were stopped.
CAUGHT = ("killed", "timeout", "caught by type check")
LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")


def mutant_results(mutmut):
    done = subprocess.run([mutmut, "results", "--all", "true"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"`mutmut results` failed ({done.returncode}):\n{done.stderr}")
    return [(m["name"], m["status"].strip()) for m in map(LINE.match, done.stdout.splitlines()) if m]


def module_of(name):
    return re.split(r"\.x_|\.xǁ", name, maxsplit=1)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutmut", default="mutmut", help="the mutmut executable")
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when the score (%%) is below this")
    args = parser.parse_args()
    results = mutant_results(args.mutmut)
    if not results:
        sys.exit("mutmut has no results: run `mutmut run` first.")
    by_module = defaultdict(Counter)
    for name, status in results:
        by_module[module_of(name)][status] += 1
    print(f"{'module':40} {'mutants':>7} {'caught':>7} {'score':>7}  others")
    for module, counts in sorted(by_module.items()):
        print(_row(module, counts))
    total = sum(by_module.values(), Counter())
    print(_row("total", total))
    alive = [(name, status) for name, status in results if status not in CAUGHT]
    print(f"\n{len(alive)} mutants not caught (see one with `mutmut show NAME`):")
    for name, status in alive:
        print(f"    {name}: {status}")
    unchecked = total["not checked"]
    if unchecked:
        sys.exit(f"{unchecked} mutants were never checked: the run did not finish.")
    if _score(total) < args.fail_under:
        sys.exit(f"The mutation score {_score(total):.1f}% is under {args.fail_under:g}%.")


def _score(counts):
    return 100 * sum(counts[s] for s in CAUGHT) / max(sum(counts.values()), 1)


def _row(module, counts):
    others = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status not in CAUGHT)
    caught = sum(counts[s] for s in CAUGHT)
    return f"{module:40} {sum(counts.values()):>7} {caught:>7} {_score(counts):>6.1f}%  {others}"


if __name__ == "__main__":
    main()
