"""The compiler's version: written into every generated artifact, so a backend may import it
(it imports nothing, unlike the ``snnc`` package with its whole API)."""

__version__ = "0.1.0"
