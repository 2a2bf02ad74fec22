"""Rebuild the seed spam model shipped in the package from the YouTube Spam Collection.

Usage: python bench/build_seed_model.py [DATA_DIR]   (default ../shared/data)
Data: T. C. Alberto, J. V. Lochter, T. A. Almeida, "TubeSpam: Comment Spam Filtering on YouTube",
ICMLA 2015, doi:10.1109/ICMLA.2015.37; CC BY 4.0. Only the trained arrays are shipped, not the data.
"""
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.spam.model import train  # noqa: E402
from moderation.spam.store import SEED_MODEL  # noqa: E402


def read(folder):
    texts, labels, authors = [], [], []
    for path in sorted(Path(folder).glob("youtube-spam/*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.append(row["CONTENT"])
                labels.append(int(row.get("label") or row["CLASS"]))
                authors.append(row.get("AUTHOR", ""))
    return texts, labels, authors


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared" / "data")
    texts, labels, authors = read(folder)
    if not texts:
        sys.exit(f"no youtube-spam/*.csv under {folder}")
    model = train(texts, labels, authors)
    SEED_MODEL.write_bytes(model.to_bytes())
    print(f"seed model: {len(texts)} comments ({sum(labels)} spam) -> {SEED_MODEL} ({SEED_MODEL.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
