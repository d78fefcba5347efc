"""One thin entry per DVC stage: argparse -> params -> library calls -> declared outputs."""
