"""Near-duplicates of training sentences: same words up to case, numbers and punctuation."""

from __future__ import annotations

from nmt_bottleneck.data.near_duplicates import near_duplicate_key, near_duplicates


def test_case_numbers_and_punctuation_do_not_count():
    assert near_duplicate_key("Motion No. 12 agreed to.") == "motion no 0 agreed to"
    assert near_duplicate_key("  MOTION no 7, agreed   to!") == "motion no 0 agreed to"
    assert near_duplicate_key("Hear, hear!") == near_duplicate_key("hear hear")
    assert near_duplicate_key("Élection à Montréal") == "élection à montréal"  # letters stay


def test_a_different_word_or_order_counts():
    assert near_duplicate_key("Motion No. 12 negatived.") != near_duplicate_key(
        "Motion No. 12 agreed to."
    )
    assert near_duplicate_key("hear hear") != near_duplicate_key("hear")
    assert near_duplicate_key("a b") != near_duplicate_key("b a")


def test_each_source_is_looked_up_in_the_whole_training_set():
    train = ["Motion No. 3 agreed to.", "Some hon. members: Agreed.", "The house rose."]
    sources = [
        "Motion No. 41 agreed to.",
        "Some hon. members: agreed",
        "The House adjourned.",
        "",
        "The house rose",
    ]
    assert near_duplicates(sources, iter(train)) == [True, True, False, False, True]
    assert near_duplicates(sources, []) == [False] * len(sources)
