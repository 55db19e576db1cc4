"""PE image format, layout.json / resources.json, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from testkit import child_env
from testkit.s2_netgen import RECIPES, group_block, machine_limits, spinnaker2

from snnc.backends.spinnaker2 import emit
from snnc.backends.spinnaker2 import image as img
from snnc.backends.spinnaker2 import layout as layout_module
from snnc.backends.spinnaker2.emit import write_layout
from snnc.backends.spinnaker2.layout import build_layout
from snnc.backends.spinnaker2.simulate import Stats, load_layout, run_layout
from snnc.errors import EmitError, VerifyError
from snnc.passes.quantize import quantize
from snnc.reference.integer import run_quantized


def _layout(recipe: str, seed: int):
    rng = np.random.default_rng(seed)
    graph = RECIPES[recipe](rng)
    target = machine_limits(rng, spinnaker2(), min_cap=group_block(graph))
    qg = quantize(graph, target.numeric, target=target.name)
    return qg, target, build_layout(qg, target)


@pytest.mark.parametrize("recipe", ["mlp", "attention", "conv", "injection", "readout"])
def test_images_decode_and_reencode_to_the_same_bytes(recipe: str) -> None:
    _, _, layout = _layout(recipe, 11)
    for data in layout.images.values():
        image = img.decode_image(data)
        assert img.encode_image(image) == data


def test_image_header_and_tables_describe_the_slice() -> None:
    _, _, layout = _layout("mlp", 14)
    for sl, data in layout.images.items():
        image = img.decode_image(data)
        site = layout.sites[sl]
        assert (image.population, image.lo, image.n) == (sl.pop, sl.lo, sl.n)
        assert (image.chip, image.core, image.pe_id) == (site.chip, site.core, site.pe_id)
        keyed = sl in layout.keys
        assert bool(image.flags & img.HAS_KEY) == keyed
        if keyed:
            assert (image.key, image.mask) == (layout.keys[sl].key, layout.keys[sl].mask)
        assert [e.key for e in image.mpop] == sorted(e.key for e in image.mpop)
        words = sum(int(b.words.size) for b in image.blocks)
        assert words == layout.synapse_counts[sl]


def test_emitting_twice_gives_byte_identical_files(tmp_path: Path) -> None:
    qg, target, _ = _layout("residual", 13)
    first = emit(qg, target, tmp_path / "a")
    second = emit(qg, target, tmp_path / "b")
    assert first.files == second.files
    assert "layout.json" in first.files and "resources.json" in first.files
    for name in first.files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_layout_summary_agrees_with_the_routed_tables(tmp_path: Path) -> None:
    """Total hops equal the link traversals of sending every key once through the tables."""
    _, _, layout = _layout("fanout", 14)
    write_layout(layout, tmp_path)
    loaded = load_layout(tmp_path)
    stats = Stats()
    for image in loaded.images:
        if image.flags & img.HAS_KEY:
            loaded.mesh.deliver(image.chip, image.key + np.arange(1), stats)
    doc = json.loads((tmp_path / "layout.json").read_text())
    summary = doc["summary"]
    assert summary["total_hops"] == stats.link_hops > 0
    assert summary["routing_entries"] <= summary["routing_entries_uncompressed"]
    assert summary["pes"] == len(doc["pes"]) == len(list(tmp_path.glob("pe_*.bin")))
    resources = json.loads((tmp_path / "resources.json").read_text())
    assert all(p["sram_bytes"] <= p["sram_limit"] for p in resources["pes"])
    assert all(c["routing_entries"] <= c["routing_entries_limit"] for c in resources["chips"])


def test_a_compression_that_changes_a_route_is_a_verify_error(monkeypatch) -> None:
    """The layout checks every compressed table against the original, one key per slice."""

    def wrong(table, points):
        first = table[0]
        bent = replace(first.route, links=first.route.links ^ 1)
        return [replace(first, route=bent), *table[1:]]

    monkeypatch.setattr(layout_module, "compress", wrong)
    with pytest.raises(VerifyError, match="changed the route of key"):
        _layout("fanout", 14)


def test_a_corrupt_image_is_an_emit_error() -> None:
    _, _, layout = _layout("mlp", 18)
    data = next(iter(layout.images.values()))
    with pytest.raises(EmitError, match="bad magic"):
        img.decode_image(b"XXXX" + data[4:])
    with pytest.raises(EmitError, match="past the end"):
        img.decode_image(data[:60])


def test_missing_image_is_an_emit_error(tmp_path: Path) -> None:
    _, _, layout = _layout("mlp", 16)
    write_layout(layout, tmp_path)
    next(tmp_path.glob("pe_*.bin")).unlink()
    with pytest.raises(EmitError, match="is missing"):
        load_layout(tmp_path)


def _run_both(tmp_path: Path):
    rng = np.random.default_rng(5)
    graph = RECIPES["mlp"](rng)
    target = spinnaker2()
    qg = quantize(graph, target.numeric, target=target.name)
    layout = build_layout(qg, target)
    write_layout(layout, tmp_path)
    drive = (rng.random((8, 4, *graph.input.shape)) < 0.5).astype(np.float32)
    return qg, layout, run_quantized(qg, drive), qg.quantize_input(drive)


def test_the_simulator_executes_the_synapse_words_in_the_images(tmp_path: Path) -> None:
    """Flipping one weight in one image changes the simulated trace: the rows are what runs."""
    _, layout, ref, x = _run_both(tmp_path)
    got, _ = run_layout(tmp_path, x)
    assert np.array_equal(got.output, ref.output)
    sl = next(s for s in layout.slices() if layout.synapse_counts[s])
    path = tmp_path / f"pe_{layout.sites[sl].pe_id:03d}.bin"
    image = img.decode_image(path.read_bytes())
    block = image.blocks[0]
    words = block.words.copy()
    words[:] = (words & 0xFFFF) | (0x7FFF << 16)  # every weight of the block -> +32767
    blocks = (img.SynapticBlock(block.offsets, block.lengths, words), *image.blocks[1:])
    path.write_bytes(img.encode_image(replace(image, blocks=blocks)))
    changed, _ = run_layout(tmp_path, x)
    name = layout.net.populations[sl.pop].name
    assert not np.array_equal(changed.v[name], ref.v[name])


def test_a_missing_router_entry_is_a_routing_fault(tmp_path: Path) -> None:
    _, _, _, x = _run_both(tmp_path)
    doc = json.loads((tmp_path / "layout.json").read_text())
    chip = next(c for c in doc["chips"] if c["routing_table"])
    chip["routing_table"] = chip["routing_table"][1:]
    (tmp_path / "layout.json").write_text(json.dumps(doc))
    _, stats = run_layout(tmp_path, x)
    assert stats.dropped_no_route > 0


_EMIT_SCRIPT = """
import numpy as np
from testkit.s2_netgen import RECIPES, machine_limits, spinnaker2
from snnc.backends.spinnaker2 import emit
from snnc.passes.quantize import quantize
rng = np.random.default_rng(21)
graph = RECIPES["conv"](rng)
target = machine_limits(rng, spinnaker2())
emit(quantize(graph, target.numeric, target=target.name), target, {out!r})
"""


def test_bytes_do_not_depend_on_the_process_hash_seed(tmp_path: Path) -> None:
    for seed in ("1", "2"):
        script = _EMIT_SCRIPT.format(out=str(tmp_path / seed))
        subprocess.run([sys.executable, "-c", script], check=True,
                       env=child_env(PYTHONHASHSEED=seed))
    names = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "2").iterdir())
    for name in names:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


@pytest.mark.parametrize("recipe", ["mlp", "conv", "residual", "attention"])
def test_images_written_while_encoding_equal_those_built_in_memory(recipe: str,
                                                                   tmp_path: Path) -> None:
    qg, target, layout = _layout(recipe, 21)
    streamed = emit(qg, target, tmp_path / "streamed")
    write_layout(layout, tmp_path / "memory")
    names = sorted(p.name for p in (tmp_path / "memory").iterdir())
    assert sorted(streamed.files) == names
    assert sorted(p.name for p in (tmp_path / "streamed").iterdir()) == names
    for name in names:
        assert (tmp_path / "streamed" / name).read_bytes() == \
            (tmp_path / "memory" / name).read_bytes()


def test_a_layout_built_into_a_folder_reads_its_images_back(tmp_path: Path) -> None:
    qg, target, layout = _layout("mlp", 22)
    built = build_layout(qg, target, tmp_path)
    assert dict(built.images) == dict(layout.images)
    assert built.image_sizes == {sl: len(data) for sl, data in layout.images.items()}
