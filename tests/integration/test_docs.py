"""The README stays true: its zoo table is the registry's, its command lines parse, its
links to notebooks and examples point at files, and the two opening commands are unchanged."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _zoo_table_module():
    spec = importlib.util.spec_from_file_location("zoo_table", REPO / "docs" / "zoo_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]


def test_readme_zoo_table_is_generated_from_the_registry():
    zoo_table = _zoo_table_module()
    start, end = README.find(zoo_table.START), README.find(zoo_table.END)
    assert 0 <= start < end, "README.md lost its zoo-table markers"
    assert README[start:end + len(zoo_table.END)] == zoo_table.block(), (
        "README.md's zoo table is stale: run `python docs/zoo_table.py --write`")


def test_readme_pretrained_table_is_generated_with_a_grid_per_entry():
    zoo_table = _zoo_table_module()
    start, end = README.find(zoo_table.RESULTS_START), README.find(zoo_table.RESULTS_END)
    assert 0 <= start < end, "README.md lost its pretrained-table markers"
    assert README[start:end + len(zoo_table.RESULTS_END)] == zoo_table.results_block(), (
        "README.md's pretrained table is stale: run `python docs/zoo_table.py --write`")
    from ganzoo.weights import available_pretrained

    rows = {row[0].strip("`"): row for row in zoo_table.results_rows()}
    assert sorted(rows) == sorted(available_pretrained())
    for name, row in rows.items():
        assert (REPO / zoo_table.GRIDS / f"{name}.png").is_file(), (
            f"no sample grid for {name}: run `python scripts/train_pretrained.py {name} --grid-only`")
        assert row[-1].startswith("!["), row
        assert row[5] not in ("-", "not measured yet"), f"{name} has no measurement"


def test_zoo_table_rows_carry_pretrained_status_and_papers():
    import ganzoo

    zoo_table = _zoo_table_module()
    rows = {row[0].strip("`"): row for row in zoo_table.rows()}
    assert sorted(rows) == ganzoo.list_models()
    from ganzoo.weights import available_pretrained

    for name, row in rows.items():
        assert row[3] != "-", f"{name} names no paper"
        assert row[6].startswith("yes") == (name in available_pretrained())


def _readme_command_lines():
    """Every `ganzoo ...` line of the README's bash blocks (continuations joined, comments cut)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("ganzoo "):
                lines.append(line)
    return lines


@pytest.mark.parametrize("line", _readme_command_lines())
def test_readme_command_line_parses(line):
    from ganzoo.cli import build_parser

    try:
        build_parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exit_:  # argparse's way of rejecting a command line
        pytest.fail(f"`{line}` from README.md does not parse (exit {exit_.code})")


def test_readme_links_point_at_files():
    targets = re.findall(r"\]\(((?:notebooks|examples|docs)/[^)#]+)\)", README)
    targets += re.findall(r"`((?:examples|docs|notebooks|scripts)/[\w./-]+\.(?:py|yaml|ipynb|sh))`", README)
    assert targets, "expected links to notebooks/ and examples/"
    missing = sorted({t for t in targets if not (REPO / t).exists()})
    assert not missing, f"README.md points at missing files: {missing}"
