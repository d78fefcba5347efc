"""Evaluation sentences that repeat a training sentence up to case, numbers and punctuation.

Parliamentary records repeat boilerplate with only a number or a name's punctuation changed
("Motion No. 12 agreed to."). The corpora's `*_unseen` splits drop exact repeats of training
pairs, not these, and they are short: a model that has seen one may translate the other by
rote, which lifts the short buckets of a BLEU-against-length curve (on Hansard test_unseen it
lifted all three variants' 1-10 bucket). The evaluate stage scores such a test set twice,
whole and without them (`data.novel_views`), against the training pairs the models were
trained on (after the length filter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_NUMBER = re.compile(r"\d+")
_PUNCTUATION = re.compile(r"[^\w\s]")


def near_duplicate_key(text: str) -> str:
    """`text` lower-cased, every run of digits as 0 and punctuation as a space, words joined
    by one space: two sentences with the same key differ only in case, numbers or punctuation."""
    text = _PUNCTUATION.sub(" ", _NUMBER.sub("0", text.lower()))
    return " ".join(text.split())


def near_duplicates(sources: Sequence[str], train_sources: Iterable[str]) -> list[bool]:
    """Per source in `sources`: whether some training source has the same key."""
    seen = {near_duplicate_key(s) for s in train_sources}
    return [near_duplicate_key(s) in seen for s in sources]
