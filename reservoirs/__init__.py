"""pond reservoirs."""
from reservoirs.esn import ESN
from reservoirs.lsm import LSM

__all__ = ["ESN", "LSM"]
