"""Evaluation: source-length buckets and sacrebleu scoring (BLEU, chrF, bootstrap CIs, tests)."""
