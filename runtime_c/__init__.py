"""Hand-written C99 runtime shipped into every generated MCU project."""

from importlib import resources
from pathlib import Path


def runtime_dir() -> Path:
    """Folder holding the runtime's ``.c`` and ``.h`` files."""
    return Path(str(resources.files(__name__)))
