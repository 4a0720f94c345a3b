"""What the text stage reads: DisCRn-style comparisons and one-input questions as text.

Each text has the layout DisCRn uses (DESIGN §4, :mod:`xalign.compose`): the fixed
instruction, then ``cue ‖ description`` per input, the question, the answer. A description
stands where projected media tokens go, as the LLM's own embeddings of the caption's words
(:func:`slot_embeddings`, :func:`compose_text`), or is written in the question (the DisCRn
caption baseline's layout). The caption teacher (:mod:`xalign.train.teacher`) composes its
texts with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

ANSWERS = ("The first one.", "The second one.")


@dataclass(frozen=True)
class TextExample:
    """Described inputs (cue, text) in order, a question and its answer."""

    inputs: tuple[tuple[str, str], ...]
    question: str
    answer: str
    preamble: str = ""


def comparison_texts(records: Sequence[Any], layout: str = "slots") -> list[TextExample]:
    """DisCRn records as text, each input's caption either where its media tokens would go
    (``slots``, as composed projectors are read) or written in the question (``inline``,
    as the DisCRn caption baseline asks)."""
    from xalign.eval.discrn.records import INSTRUCTION
    from xalign.eval.discrn.run import captions_inline
    from xalign.registry import get_registry

    registry = get_registry()
    out = []
    for ex in records:
        cues = tuple(registry.get(m).cue for m in ex.modalities)
        if layout == "slots":
            inputs, question = tuple(zip(cues, ex.captions, strict=True)), ex.question
        elif layout == "inline":
            inputs, question = (), captions_inline(cues, ex.captions, ex.question)
        else:
            raise ValueError(f"layout must be 'slots' or 'inline', got {layout!r}")
        out.append(TextExample(inputs=inputs, question=question, answer=ANSWERS[ex.label],
                               preamble=INSTRUCTION))
    return out


def comparison_examples(seed: int, per_pair: int, modalities: Sequence[str] = ()
                        ) -> list[TextExample]:
    """DisCRn-style comparisons from the captions of the stage's own synthetic split."""
    from xalign.eval.discrn.synth import default_pairs, synthetic_discrn
    from xalign.registry import get_registry

    names = list(modalities) or get_registry().names()
    # The shipped stage learnt from records balanced by answer position only, in which the
    # modality with more attributes is more often the answer (the image: 60-65% of its
    # pairs), a likely source of the LLM's preference for it. Rebuilt from records balanced
    # by modality too, it compared worse (README, "All six pairs"), so it keeps these.
    records = synthetic_discrn(default_pairs(names), per_pair=per_pair, seed=seed,
                               balance_modalities=False)
    # both layouts, taking turns among the records of each answer: a layout chosen by
    # position in the list once alternated with the balanced answers, and the stage learnt
    # "slots: the first one, inline: the second one" instead of comparing
    turns = [0, 0]
    texts = []
    for record in records:
        layout = ("slots", "inline")[turns[record.label] % 2]
        turns[record.label] += 1
        texts += comparison_texts([record], layout)
    return texts


def single_examples(seed: int, count: int, modalities: Sequence[str] = ()
                    ) -> list[TextExample]:
    """Questions about one described input, in the projectors' task formats."""
    from xalign.data.synthetic import SyntheticSource
    from xalign.registry import get_registry

    registry = get_registry()
    names = list(modalities) or registry.names()
    sources = [SyntheticSource(registry.get(name), split="test", size=count, seed=seed,
                               tasks=("qa", "classify")) for name in names]
    out = []
    for i in range(count):
        source = sources[i % len(sources)]
        item, sample = source.item_and_sample(i)
        out.append(TextExample(inputs=((source.modality.cue, sample.caption),),
                               question=item.instruction, answer=item.target))
    return out



def slot_embeddings(tokenizer: Any, embeddings: nn.Module, text: str) -> torch.Tensor:
    """``[n, d]``: a description's word embeddings as they stand in an input slot."""
    ids = tokenizer(" " + text.strip(), add_special_tokens=False)["input_ids"]
    ids = torch.tensor(ids, dtype=torch.long, device=embeddings.weight.device)
    return embeddings(ids).detach()


def compose_text(composer: Any, embeddings: nn.Module, examples: Sequence[TextExample],
                 with_targets: bool, padding_side: str = "right",
                 perturb: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Any:
    """Compose text examples, each description embedded where media tokens go (``perturb``
    maps a slot's ``[n, d]`` embeddings to what training puts there)."""
    from xalign.compose import ComposeItem

    items = []
    for ex in examples:
        media = []
        for cue, text in ex.inputs:
            slot = slot_embeddings(composer.tokenizer, embeddings, text)
            media.append((cue, perturb(slot) if perturb is not None else slot))
        items.append(ComposeItem(media=media, instruction=ex.question,
                                 target=ex.answer if with_targets else None,
                                 preamble=ex.preamble))
    return composer.compose(items, embeddings, padding_side=padding_side)
