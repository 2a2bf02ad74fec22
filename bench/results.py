"""Where every benchmark leaves its figures: one section each in bench/results/latest.json.

Each script calls `record(section, figures)` once it has measured; `bench/report.py` turns the file into a
Markdown table and PNG charts. The file is rewritten whole (to a temporary name, then renamed), so a run
stopped half-way never leaves it unreadable, and sections from earlier runs stay until measured again.
"""
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "results"
LATEST = FOLDER / "latest.json"


def machine():
    """What the figures were measured on: they mean little without it."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model or platform.processor(), "python": sys.version.split()[0],
            "system": platform.platform()}


def load():
    try:
        return json.loads(LATEST.read_text())
    except (OSError, ValueError):
        return {}


def record(section, figures):
    """Put `figures` (anything JSON can hold) under `section`, with when and on what they were measured."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    results = load()
    results[section] = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "machine": machine(), **figures}
    temporary = LATEST.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    temporary.replace(LATEST)
    return results[section]
