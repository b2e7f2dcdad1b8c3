"""Title linking in chat on messy messages written for it, against the demo catalog.

Run: .venv/bin/python bench/linking_messy.py [tune|check|blind|blind-a|blind-b|blind2|CSV]
(default: tune, check, blind-b, blind2)
Two sets of messages, each written before the linking changes measured on it: `tests/data/linking_messy_tune.csv`
(99 messages, held out until stop 21, then tuned on) and `linking_messy_check.csv` (101 messages written at stop 21
before any change, reported in aggregate only). A third, `blind` (`linking_messy_blind.csv`, 100 messages, 18 naming
no title), was written without looking at the linking code, its alias data or the other sets. At stop 22 it
scored 0.857/0.641 (precision/recall) and was split: `blind-a`, rows 1-50, was then tuned on; `blind-b`, rows 51-100,
is reported in aggregate only. `blind2` (`linking_messy_blind2.csv`, 100 messages, 22 naming no title) was written
the same way at stop 23, after that stop's linking changes, and is reported in aggregate only. Each row is a
message and the catalog titles it names ("Label (year)" joined by "|", empty when it names none).
A title counts as found when the reader links it or offers it first in an ambiguity question. Prints precision and
recall over all titles, the same for one-word titles that are frequent English (Zipf ≥ 4: Heat, Up, Big, Her), and how
many messages that name no title link nothing. Compare commits by running it on each.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from wordfreq import zipf_frequency

from convrec.catalog.loaders import load_demo_catalog
from convrec.tools.linking import ARTICLES
from convrec.tools.reader import read_message
from convrec.tools.textnorm import words

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
BLIND = DATA / "linking_messy_blind.csv"
SPLITS = {"tune": (DATA / "linking_messy_tune.csv", slice(None)),
          "check": (DATA / "linking_messy_check.csv", slice(None)),
          "blind": (BLIND, slice(None)), "blind-a": (BLIND, slice(0, 50)), "blind-b": (BLIND, slice(50, None)),
          "blind2": (DATA / "linking_messy_blind2.csv", slice(None))}
DEFAULT_SPLITS = ("tune", "check", "blind-b", "blind2")


def main(path: Path, rows_taken: slice = slice(None)) -> None:
    catalog = load_demo_catalog()
    by_label: dict[str, str] = {}
    for item_id in catalog.items.index:
        by_label.setdefault(catalog.item(item_id).label, item_id)

    def everyday_word_title(item_id: str) -> bool:
        content = [word for word in words(catalog.items.at[item_id, "title"]) if word not in ARTICLES]
        return len(content) == 1 and zipf_frequency(content[0], "en") >= 4.0

    counts = {"all": [0, 0, 0], "everyday": [0, 0, 0]}  # true positives, false positives, false negatives
    quiet = chat_only = 0
    with open(path, encoding="utf-8") as rows:
        for row in list(csv.DictReader(rows))[rows_taken]:
            expected = {by_label[label] for label in row["expected"].split("|") if label}
            reading = read_message(row["message"], catalog)
            found = {title.item_id for title in reading.titles} | \
                {mention.candidates[0].item_id for mention in reading.ambiguous if mention.candidates}
            for name, keep in (("all", lambda item: True), ("everyday", everyday_word_title)):
                counts[name][0] += sum(map(keep, found & expected))
                counts[name][1] += sum(map(keep, found - expected))
                counts[name][2] += sum(map(keep, expected - found))
            if not expected:
                chat_only += 1
                quiet += not found
    for name, (tp, fp, fn) in counts.items():
        print(f"{name:9} precision {tp / max(1, tp + fp):.3f}  recall {tp / max(1, tp + fn):.3f}  "
              f"(tp {tp}, fp {fp}, fn {fn})")
    print(f"messages naming no title that link nothing: {quiet}/{chat_only}")


if __name__ == "__main__":
    for name in sys.argv[1:] or DEFAULT_SPLITS:
        print(f"== {name}")
        main(*SPLITS.get(name, (Path(name), slice(None))))
