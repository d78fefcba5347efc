"""Data: corpus sources (download), tokenizer training, encoding and length filtering."""
