"""pond readouts."""
