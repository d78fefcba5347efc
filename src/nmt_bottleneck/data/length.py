"""Sentence length, defined once: whitespace-separated words of the raw sentence.

This is the x axis of Bahdanau et al. (2015), Figure 2, and the unit of the training length
filter (RNNsearch-30/-50 keep pairs of at most 30/50 words). Subword counts are never used as
"length" in reports.
"""

from __future__ import annotations


def word_count(text: str) -> int:
    """Number of whitespace-separated words in `text` (any run of Unicode whitespace splits)."""
    return len(text.split())
