"""The Hydra multirun door's own parts: the shared tokenize cache and the sweep summary."""
