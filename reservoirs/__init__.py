"""pond reservoirs."""
