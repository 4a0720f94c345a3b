"""Measure: does the LLM still read a projector's tokens when other text stands beside them?

A projector trains with its input right after the chat header; composed (DisCRn), an input
follows an instruction or another input. This scores each finished run's held-out items
(the ranking accuracy ``xalign train`` reports) three ways: as trained, with one general
sentence before the input, and with one between the input and the question. The sentences
are held out from the training pool ``xalign.data.templates.CONTEXT`` (``data.context_share``)
and name no modality, attribute or value, so any drop is the tokens being read less well,
not the text answering the question.

    python bench/read_beside_text.py RUN_DIR [RUN_DIR ...] [--size 100] [--json OUT]

RUN_DIR: a finished ``xalign train`` run (e.g. ``runs/demo/image``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from xalign.data.templates import CONTEXT
from xalign.train.evaluate import ranking_accuracy
from xalign.train.precision import speed_flags
from xalign.train.run import load_run

HELD_OUT = (
    "The weather was pleasant yesterday.",
    "This is a note written in plain words.",
    "Here is some context for you.",
    "Thank you for your patience.",
    "The meeting starts at noon.",
)
PLACES = ("as trained", "sentence before", "sentence after")


class BesideText:
    """A held-out set whose examples get ``HELD_OUT[i % 5]`` at ``place``."""

    def __init__(self, dataset: Any, place: str) -> None:
        self.dataset, self.place = dataset, place
        self.max_chance = getattr(dataset, "max_chance", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def item(self, i: int) -> Any:
        return self.dataset.item(i)

    def __getitem__(self, i: int) -> Any:
        example, sentence = self.dataset[i], HELD_OUT[i % len(HELD_OUT)]
        if self.place == "sentence before":
            return dataclasses.replace(example, preamble=sentence)
        if self.place == "sentence after":
            return dataclasses.replace(example, instruction=f"{sentence}\n{example.instruction}")
        return example


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--size", type=int, default=None,
                        help="held-out items (default: the run's)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if set(HELD_OUT) & set(CONTEXT):
        raise SystemExit("bench sentences overlap the training pool templates.CONTEXT")
    print(f"CPU flags: {' '.join(speed_flags()) or 'unknown'}")
    report: dict[str, dict[str, Any]] = {}
    for run in args.runs:
        model, dataset = load_run(run, size=args.size)
        report[str(run)] = {}
        for place in PLACES:
            result = ranking_accuracy(model, BesideText(dataset, place))
            attributes = {a: round(100 * s["accuracy"]) for a, s in result.per_attribute.items()}
            report[str(run)][place] = {"accuracy": result.accuracy, "per_attribute": attributes}
            print(f"{run}  {place:<16} {100 * result.accuracy:5.1f}%  {attributes}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
