"""Use cases: archive one fine-tune; the parallel transfer that does the heavy lifting."""
