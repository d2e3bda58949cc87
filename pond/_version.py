"""pond's version, single source of truth for setup.cfg and file metadata."""
__version__ = "0.1.0"
