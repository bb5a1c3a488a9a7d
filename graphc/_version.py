"""The graphc version (one place: the package, the cache keys and the generated headers)."""

__version__ = "0.1.0"
