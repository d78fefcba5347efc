"""Corpus sources for the download stage. Each is built from `data.source` in the config
(Hydra `_target_`) and has `load() -> Corpus`: local aligned text files, the Hugging Face Hub
(through `datasets`), or a generated synthetic task."""
