"""CIDEr-D (Vedantam et al., 2015), as the coco-caption toolkit computes it.

For n = 1..4, each sentence becomes a TF-IDF vector of its n-grams: term count times
``log(N) - log(max(1, df))``, where ``N`` is the number of images and ``df`` the number
of images whose *references* contain the n-gram. The score of a candidate against one
reference, for each n, is the cosine of the two vectors with the candidate's weights
clipped at the reference's (``min(c, r) * r``, the "-D" against gaming by repetition),
times a Gaussian length penalty ``exp(-(len_c - len_r)^2 / (2 * 6^2))``. The n-gram
scores are averaged, averaged over the references and multiplied by 10. The corpus score
is the mean over images (papers usually print it x100).

Text is lower-cased and split on anything that is not a letter, a digit or an apostrophe
(coco-caption runs the PTB tokenizer and drops punctuation, to the same effect on plain
captions).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

N = 4
SIGMA = 6.0
_TOKEN = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(tokens: Sequence[str], n_max: int = N) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for n in range(1, n_max + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i:i + n])] += 1
    return counts


def _vector(counts: Counter[tuple[str, ...]], df: Mapping[tuple[str, ...], int],
            log_n: float) -> tuple[list[dict[tuple[str, ...], float]], list[float]]:
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(N)]
    for gram, tf in counts.items():
        vec[len(gram) - 1][gram] = tf * (log_n - math.log(max(1.0, df.get(gram, 0))))
    norms = [math.sqrt(sum(w * w for w in v.values())) for v in vec]
    return vec, norms


def _similarity(cand: tuple[list[dict], list[float]], ref: tuple[list[dict], list[float]],
                len_c: int, len_r: int) -> float:
    penalty = math.exp(-((len_c - len_r) ** 2) / (2 * SIGMA ** 2))
    total = 0.0
    for n in range(N):
        vc, vr = cand[0][n], ref[0][n]
        dot = sum(min(w, vr.get(g, 0.0)) * vr.get(g, 0.0) for g, w in vc.items())
        if cand[1][n] and ref[1][n]:
            dot /= cand[1][n] * ref[1][n]
        total += dot * penalty
    return total / N


def cider_d(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]],
            ) -> tuple[float, dict[str, float]]:
    """Corpus CIDEr-D and the score of each image (keys of ``candidates``).

    Every candidate needs at least one reference; document frequencies come from the
    references of all the images given, so scores depend on the whole set (as in the
    toolkit).
    """
    missing = [k for k in candidates if not references.get(k)]
    if missing:
        raise ValueError(f"no references for {', '.join(map(str, missing[:5]))}")
    if not candidates:
        return 0.0, {}
    refs_tok = {k: [tokenize(r) for r in references[k]] for k in candidates}
    df: Counter[tuple[str, ...]] = Counter()
    for refs in refs_tok.values():
        df.update({g for r in refs for g in ngrams(r)})
    log_n = math.log(float(len(candidates)))
    scores = {}
    for key, text in candidates.items():
        cand_tokens = tokenize(text)
        cand = _vector(ngrams(cand_tokens), df, log_n)
        total = 0.0
        for ref_tokens in refs_tok[key]:
            ref = _vector(ngrams(ref_tokens), df, log_n)
            total += _similarity(cand, ref, len(cand_tokens), len(ref_tokens))
        scores[key] = 10.0 * total / len(refs_tok[key])
    return sum(scores.values()) / len(scores), scores
