"""loihi."""
