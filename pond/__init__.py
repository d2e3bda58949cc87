"""pond: spiking and reservoir simulation engine (command line and version)."""
from pond._version import __version__

__all__ = ["__version__"]
