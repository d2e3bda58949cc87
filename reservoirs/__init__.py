"""pond reservoirs."""
from reservoirs.esn import ESN

__all__ = ["ESN"]
