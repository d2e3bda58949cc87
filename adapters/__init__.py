"""pond adapters."""
