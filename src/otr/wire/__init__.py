"""Wire formats: strict, round-trippable codecs.  Pure functions, no state."""
