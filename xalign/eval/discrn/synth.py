"""The offline mini-DisCRn: two held-out synthetic entities and a question with a certain answer.

Entities come from the plugins' generators with *test-split* seeds (never trained on).
Three kinds of question, each answerable from what the generators know for sure:

* ``quantity``: a quantity both entities have ("size", "speed", "loudness",
  "brightness", "height", "pitch"…) differs by at least ``margin`` (quantities are in
  [0, 1]): "Which of the two is larger?" or its opposite, "…smaller?";
* ``attribute``: both have a categorical attribute with different values:
  "Which one is red?" (the other is, say, blue);
* ``exclusive``: one entity has an attribute value the other cannot have (the other
  has no such attribute at all): "Which one is a cube?" for a cube and a sound.

Values that are themselves position words ("left", "right") never make a question:
the answer matcher would read them as positions. Examples are balanced and fully
determined by ``seed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from xalign.data.synthetic import sample_seed, synthesize
from xalign.data.templates import rng_for
from xalign.eval.discrn.records import DiscrnExample, balance
from xalign.eval.matching import FIRST, SECOND
from xalign.modality import Modality, SyntheticSample
from xalign.registry import get_registry

KINDS = ("quantity", "attribute", "exclusive")

# Generic phrasings; a plugin words its own attributes and quantities in Modality.questions.
_GENERIC_QUANTITY = ("Which one has the greater {key}?", "Which one has the smaller {key}?")
_GENERIC_ATTRIBUTE = "Which one's {attribute} is {value}?"
_POSITION_WORDS = {w for w in FIRST + SECOND if " " not in w}

# The pairs of the paper first; others follow when a shared quantity or attribute exists.
PAPER_PAIRS = (("audio", "video"), ("3d", "image"))


@dataclass(frozen=True)
class Entity:
    modality: Modality
    sample: SyntheticSample
    sample_id: str


def _properties(entity: Entity) -> dict[str, dict[str, object]]:
    return {"attributes": {k: str(v) for k, v in entity.sample.attributes.items()},
            "quantities": {k: round(float(v), 4) for k, v in entity.sample.quantities.items()}}


def attribute_question(modality: Modality, attribute: str, value: str) -> str:
    """How to ask which entity has ``attribute == value``, in the plugin's words if it has any."""
    template = modality.questions.get(attribute)
    if not isinstance(template, str):
        template = _GENERIC_ATTRIBUTE
    return template.format(attribute=attribute.replace("_", " "), value=value)


def quantity_questions(a: Modality, b: Modality, key: str) -> tuple[str, str]:
    """(asks for the larger value, asks for the smaller) of quantity ``key``: the first
    plugin's phrasing, else the second's, else a generic one."""
    for modality in (a, b):
        pair = modality.questions.get(key)
        if isinstance(pair, tuple) and len(pair) == 2:
            return pair
    words = key.replace("_", " ")
    return (_GENERIC_QUANTITY[0].format(key=words), _GENERIC_QUANTITY[1].format(key=words))


Question = tuple[str, int, tuple[str, str] | None]  # text, answer index, (attribute, value)


def questions(a: Entity, b: Entity, margin: float = 0.3) -> dict[str, list[Question]]:
    """Every certain question about the pair, by kind: ``(question, index of the answer,
    probe)`` where the probe is the (attribute, value) an attribute question asks about."""
    out: dict[str, list[Question]] = {k: [] for k in KINDS}
    qa, qb = a.sample.quantities, b.sample.quantities
    for key in sorted(set(qa) & set(qb)):
        diff = float(qa[key]) - float(qb[key])
        if abs(diff) >= margin:
            more, less = quantity_questions(a.modality, b.modality, key)
            larger = 0 if diff > 0 else 1
            out["quantity"] += [(more, larger, None), (less, 1 - larger, None)]
    attrs = (a.sample.attributes, b.sample.attributes)
    mods = (a.modality, b.modality)
    vocab = (a.modality.attributes, b.modality.attributes)
    for i in (0, 1):
        other = 1 - i
        for name, value in sorted(attrs[i].items()):
            value = str(value)
            if value.lower() in _POSITION_WORDS:
                continue
            if name in attrs[other]:
                if str(attrs[other][name]) != value:
                    out["attribute"].append(
                        (attribute_question(mods[i], name, value), i, (name, value)))
            elif name in mods[i].exclusive and name not in vocab[other] and not any(
                    value in values for values in vocab[other].values()):
                out["exclusive"].append(
                    (attribute_question(mods[i], name, value), i, (name, value)))
    return out


def default_pairs(names: Iterable[str]) -> list[tuple[str, str]]:
    """The paper's pairs that are installed, then every other pair of installed modalities."""
    names = sorted(names)
    pairs = [p for p in PAPER_PAIRS if p[0] in names and p[1] in names]
    seen = {frozenset(p) for p in pairs}
    pairs += [p for p in itertools.combinations(names, 2) if frozenset(p) not in seen]
    return pairs


def _entity(modality: Modality, seed: int, i: int) -> Entity:
    s = sample_seed(seed, "test", i)
    return Entity(modality, synthesize(modality, s), f"{modality.name}-test-{i:06d}")


def synthetic_discrn(pairs: Sequence[tuple[str, str]] | None = None, per_pair: int = 24,
                     seed: int = 0, margin: float = 0.3, kinds: Sequence[str] = KINDS,
                     max_tries: int = 50) -> list[DiscrnExample]:
    """``per_pair`` balanced examples for each modality pair (see module doc)."""
    registry = get_registry()
    pairs = list(pairs) if pairs is not None else default_pairs(registry.names())
    examples: list[DiscrnExample] = []
    for m1, m2 in pairs:
        mods = (registry.get(m1), registry.get(m2))
        made, cursor = [], 0
        while len(made) < per_pair:
            rng = rng_for("mini-discrn", seed, m1, m2, len(made))
            # rotate through the kinds so that no kind dominates a pair: look for a pair of
            # entities with a question of the wanted kind, else take the first usable one
            wanted = kinds[len(made) % len(kinds)]
            fallback = None
            for _ in range(max_tries):
                # each entity index is used once per pair of modalities, so none repeats
                a, b = _entity(mods[0], seed, 2 * cursor), _entity(mods[1], seed, 2 * cursor + 1)
                cursor += 1
                found = questions(a, b, margin)
                if found.get(wanted):
                    chosen = (a, b, found, wanted)
                    break
                usable = [k for k in kinds if found.get(k)]
                if usable and fallback is None:
                    fallback = (a, b, found, usable[0])
            else:
                if fallback is None:
                    raise RuntimeError(f"no certain question for {m1}–{m2} in {max_tries} tries; "
                                       "the two generators share no quantity or attribute")
                chosen = fallback
            a, b, found, kind = chosen
            question, label, probe = rng.choice(found[kind])
            made.append(DiscrnExample(
                id=f"mini-{m1}-{m2}-{len(made):04d}", modalities=(m1, m2),
                sample_ids=(a.sample_id, b.sample_id), label=label, question=question,
                captions=(a.sample.caption, b.sample.caption),
                properties=(_properties(a), _properties(b)),
                baseline_captions=(a.sample.caption, b.sample.caption),
                media=(a.sample.raw, b.sample.raw), source="mini-discrn",
                extra={"kind": kind, **({"probe": list(probe)} if probe else {})}))
        examples += balance(made)
    return examples
