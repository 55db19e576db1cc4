"""Coverage-guided fuzzing of the ONNX and NIR loaders with atheris (libFuzzer).

The rule is the one ``test_loader_fuzz.py`` checks: loading any byte string either gives a
layer view or raises :class:`snnc.errors.SnncError`; any other exception (or a crash of a
native library underneath) is reported by libFuzzer with the input that caused it. The first
byte of an input picks the format (even: ``.onnx``, odd: ``.nir``), the rest is the file.

Usage (``pip install atheris`` into the virtual environment first)::

    PYTHONPATH=tests .venv/bin/python tests/fuzz/fuzz_loaders.py CORPUS_DIR -max_total_time=600 \
        -rss_limit_mb=4096 -timeout=60

An empty ``CORPUS_DIR`` is filled with the valid seed models of :mod:`testkit.loader_seeds` first;
libFuzzer adds every input that reaches new code to it. ``docs/reliability.md`` records a run.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import atheris

# ``load`` imports the format's reader on first use: import them here so that they are
# instrumented too (only modules imported inside this block get coverage counters).
with atheris.instrument_imports(include=["snnc"]):
    import snnc.frontend.nir
    import snnc.frontend.onnx  # noqa: F401
    from snnc.errors import SnncError
    from snnc.frontend import load

from testkit.loader_seeds import nir_seeds, onnx_seeds

SUFFIXES = (".onnx", ".nir")
WORK = Path(tempfile.mkdtemp(prefix="snnc-atheris-"))


def one_input(data: bytes) -> None:
    if not data:
        return
    path = WORK / f"input{SUFFIXES[data[0] % 2]}"
    path.write_bytes(data[1:])
    with contextlib.suppress(SnncError):  # refusing a file is fine; anything else is a bug
        load(path)


def write_seeds(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    for i, seed in enumerate(onnx_seeds()):
        (corpus / f"seed_onnx_{i}").write_bytes(b"\x00" + seed)
    for i, seed in enumerate(nir_seeds()):
        (corpus / f"seed_nir_{i}").write_bytes(b"\x01" + seed)


def main() -> None:
    corpora = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpora:
        write_seeds(Path(corpora[0]))
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
