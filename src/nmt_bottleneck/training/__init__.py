"""Training a variant: the Trainer assembly, its callbacks, and the run that writes a model."""
