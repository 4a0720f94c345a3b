"""The offline mini-DisCRn: two held-out synthetic entities and a question with a certain answer.

Entities come from the plugins' generators with *test-split* seeds (never trained on).
Every question is answerable from what the two projectors were taught (captions and
attribute questions), never from a number no caption states. Three kinds:

* ``quantity``: a quantity both entities have ("size", "pitch"…) differs by at least
  ``margin`` (quantities are in [0, 1]) *and* both modalities teach it as an attribute of
  the same name whose words differ for the two ("small" against "large"): "Which of the
  two is larger?" or its opposite. A quantity no caption puts in words (an image's
  brightness, say) is never asked about;
* ``attribute``: both have a categorical attribute and the asked value is one the other
  entity *could* have had but has not: "Which one is red?" for a red square and a blue
  ball. Only these need the inputs to be perceived;
* ``exclusive``: the value is one the other entity cannot have, because its modality
  lacks the attribute (``Modality.exclusive``: "Which one is a chord?" for a sound and a
  ball) or has the attribute with other words ("Which one is a cube?" for a cube and a
  square). Knowing which input is which modality answers these; their accuracy is
  reported apart (``by_kind``).

Values that are themselves position words ("left", "right") never make a question:
the answer matcher would read them as positions. Examples are balanced twice within each
kind, between the two answer positions and between the two modalities as the answer, and
fully determined by ``seed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from xalign.data.synthetic import sample_seed, synthesize
from xalign.data.templates import rng_for
from xalign.eval.discrn.records import DiscrnExample
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
    attrs = (a.sample.attributes, b.sample.attributes)
    for key in sorted(set(qa) & set(qb)):
        diff = float(qa[key]) - float(qb[key])
        if abs(diff) >= margin and described(key, a, b):
            more, less = quantity_questions(a.modality, b.modality, key)
            larger = 0 if diff > 0 else 1
            out["quantity"] += [(more, larger, None), (less, 1 - larger, None)]
    mods = (a.modality, b.modality)
    vocab = (a.modality.attributes, b.modality.attributes)
    for i in (0, 1):
        other = 1 - i
        for name, value in sorted(attrs[i].items()):
            value = str(value)
            if value.lower() in _POSITION_WORDS:
                continue
            question = (attribute_question(mods[i], name, value), i, (name, value))
            if name in attrs[other]:
                if str(attrs[other][name]) != value:
                    could_have = value in vocab[other].get(name, ())
                    out["attribute" if could_have else "exclusive"].append(question)
            elif name in mods[i].exclusive and name not in vocab[other] and not any(
                    value in values for values in vocab[other].values()):
                out["exclusive"].append(question)
    return out


def described(key: str, a: Entity, b: Entity) -> bool:
    """Whether both entities put quantity ``key`` in different words: each modality has an
    attribute of that name (what its captions say and its projector learns) and the two
    values differ."""
    words = [e.sample.attributes.get(key) for e in (a, b)]
    return all(key in e.modality.attributes for e in (a, b)) and None not in words \
        and str(words[0]) != str(words[1])


def default_pairs(names: Iterable[str]) -> list[tuple[str, str]]:
    """The paper's pairs that are installed, then every other pair of installed modalities."""
    names = sorted(names)
    pairs = [p for p in PAPER_PAIRS if p[0] in names and p[1] in names]
    seen = {frozenset(p) for p in pairs}
    pairs += [p for p in itertools.combinations(names, 2) if frozenset(p) not in seen]
    return pairs


def balance_per_kind(examples: Sequence[DiscrnExample]) -> list[DiscrnExample]:
    """Balance answer positions within each question kind, keeping the order (by swapping
    inputs).

    Kinds take turns, so alternating over the whole list would give every kind one answer
    position (with two kinds: every attribute question "first", every exclusive one
    "second") and a per-kind score would measure position bias. Each kind alternates from
    a phase that keeps the whole list balanced too (±1)."""
    by_kind: dict[str, list[int]] = {}
    for index, ex in enumerate(examples):
        by_kind.setdefault(str(ex.extra.get("kind")), []).append(index)
    out = list(examples)
    placed = 0
    for indices in by_kind.values():
        for j, index in enumerate(indices):
            target = (j + placed) % 2
            out[index] = examples[index] if examples[index].label == target \
                else examples[index].swapped()
        placed += len(indices)
    return out


def _entity(modality: Modality, seed: int, i: int) -> Entity:
    s = sample_seed(seed, "test", i)
    return Entity(modality, synthesize(modality, s), f"{modality.name}-test-{i:06d}")


def synthetic_discrn(pairs: Sequence[tuple[str, str]] | None = None, per_pair: int = 24,
                     seed: int = 0, margin: float = 0.3, kinds: Sequence[str] = KINDS,
                     max_tries: int = 50, balance_modalities: bool = True
                     ) -> list[DiscrnExample]:
    """``per_pair`` balanced examples for each modality pair (see module doc).

    ``balance_modalities=False`` balances answer positions only, as before the answer's
    modality was balanced too: the LLM's shipped text stage was trained on such records
    (:func:`xalign.llm.stage_texts.comparison_examples`)."""
    registry = get_registry()
    pairs = list(pairs) if pairs is not None else default_pairs(registry.names())
    examples: list[DiscrnExample] = []
    for m1, m2 in pairs:
        mods = (registry.get(m1), registry.get(m2))
        made, cursor, absent = [], 0, set()
        asked = dict.fromkeys(kinds, 0)
        while len(made) < per_pair:
            rng = rng_for("mini-discrn", seed, m1, m2, len(made))
            # rotate through the kinds so that no kind dominates a pair: look for a pair of
            # entities with a question of the wanted kind, else take the first usable one;
            # a kind not found in max_tries pairs is left out of the rotation from then on
            rotation = [k for k in kinds if k not in absent] or list(kinds)
            wanted = rotation[len(made) % len(rotation)]
            # within a kind the answer alternates between the two modalities: otherwise the
            # modality with more attributes is the answer more often, and a model (or the
            # LLM's text stage, which learns from these) can score by preferring it. In turns
            # of two, so that with the positions (alternating one by one) all four
            # combinations of answer modality and answer position come up
            side = asked[wanted] // 2 % 2 if balance_modalities else None
            fallback = None
            for _ in range(max_tries):
                # each entity index is used once per pair of modalities, so none repeats
                a, b = _entity(mods[0], seed, 2 * cursor), _entity(mods[1], seed, 2 * cursor + 1)
                cursor += 1
                found = questions(a, b, margin)
                on_side = [q for q in found.get(wanted, []) if side in (None, q[1])]
                if on_side:
                    chosen = (a, b, {**found, wanted: on_side}, wanted)
                    break
                usable = [k for k in kinds if found.get(k)]
                if fallback is None and usable:
                    fallback = (a, b, found, wanted if found.get(wanted) else usable[0])
            else:
                if fallback is None:
                    raise RuntimeError(f"no certain question for {m1}–{m2} in {max_tries} tries; "
                                       "the two generators share no quantity or attribute")
                if fallback[3] != wanted:
                    absent.add(wanted)
                chosen = fallback
            a, b, found, kind = chosen
            question, label, probe = rng.choice(found[kind])
            asked[kind] += 1
            made.append(DiscrnExample(
                id=f"mini-{m1}-{m2}-{len(made):04d}", modalities=(m1, m2),
                sample_ids=(a.sample_id, b.sample_id), label=label, question=question,
                captions=(a.sample.caption, b.sample.caption),
                properties=(_properties(a), _properties(b)),
                baseline_captions=(a.sample.caption, b.sample.caption),
                media=(a.sample.raw, b.sample.raw), source="mini-discrn",
                extra={"kind": kind, **({"probe": list(probe)} if probe else {})}))
        examples += balance_per_kind(made)
    return examples
