"""The package's layering holds: data flows one way.

Two checks over the source of ``src/ganzoo`` (read with ``ast``, nothing is
imported):

* no ganzoo module uses a private name (one starting with ``_``) of another
  ganzoo module, neither by ``from ganzoo.x import _name`` nor by
  ``x._name`` on an imported ganzoo module. A helper other modules need gets a
  public, documented name in the module that owns it.
* no import cycle among ganzoo modules, counting imports made inside
  functions as well as at module level (a deferred import hides a cycle from
  Python, not from the design), and a package's ``__init__`` like any module
  (a submodule that imports from its own package's ``__init__``, which imports
  the submodule, is a cycle too).

Run ``python tests/integration/test_layering.py [SRC_DIR]`` to print the crossings and
cycles of a source tree (for example an older checkout's ``src``).
"""

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Import cycles that are known and accepted, each a frozenset of the modules of
# one strongly connected component, with the reason. Empty: any cycle fails.
ALLOWED_CYCLES = {}


def module_files(src=SRC):
    """Map every module name under ``src/ganzoo`` to its file."""
    src = Path(src)
    out = {}
    for path in sorted((src / "ganzoo").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _resolve(node, module, is_package):
    """The absolute module name an ``ImportFrom`` node reads from."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _owner(name, modules):
    """The longest ganzoo module name that ``name`` is or lies in, or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _dotted(node):
    """``["a", "b"]`` for the expression ``a.b``, None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def scan(src=SRC):
    """Read every ganzoo module once.

    Returns ``(crossings, edges)``: ``crossings`` is a list of
    ``(importer, owner, name, lineno)`` for each private name one module takes
    from another; ``edges`` maps each module to the set of ganzoo modules it
    imports (module level and inside functions alike).
    """
    modules = module_files(src)
    crossings = []
    edges = {m: set() for m in modules}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        # local name -> ganzoo module it is bound to (for ``alias._name`` uses)
        bound = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    owner = _owner(alias.name, modules)
                    if owner is None:
                        continue
                    if owner != module:
                        edges[module].add(owner)
                    if alias.asname:
                        bound[alias.asname] = owner
                    else:  # ``import ganzoo.data`` binds ``ganzoo``
                        bound[alias.name.split(".")[0]] = _owner(alias.name.split(".")[0], modules)
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(node, module, is_package)
                owner = _owner(source, modules)
                if owner is None:
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in modules:
                        # ``from ganzoo import data``: a module, not a name
                        if submodule != module:
                            edges[module].add(submodule)
                        bound[alias.asname or alias.name] = submodule
                        continue
                    if owner != module:
                        edges[module].add(owner)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            crossings.append((module, owner, alias.name, node.lineno))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            target = _dotted(node.value)  # ``data`` in ``data._x``, ``ganzoo.data`` in ``ganzoo.data._x``
            if target is None or bound.get(target[0]) is None:
                continue
            owner = ".".join([bound[target[0]], *target[1:]])
            if owner in modules and owner != module:
                crossings.append((module, owner, node.attr, node.lineno))
    return sorted(set(crossings)), edges


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_private_name_crosses_a_module_border():
    crossings, _ = scan()
    listing = "\n".join(
        f"  {importer}:{line} uses {owner}.{name}"
        for importer, owner, name, line in crossings
    )
    print(f"{len(crossings)} private names cross a module border")
    assert not crossings, (
        "these modules use another module's private name; give the helper a "
        "public, documented name in its module:\n" + listing
    )


def test_no_import_cycle_among_ganzoo_modules():
    _, edges = scan()
    found = cycles(edges)
    print(f"{len(found)} import cycles among ganzoo modules")
    new = [c for c in found if c not in ALLOWED_CYCLES]
    assert not new, "import cycles among ganzoo modules:\n" + "\n".join(
        "  " + " <-> ".join(sorted(c)) for c in new
    )


def test_scanner_finds_a_crossing_and_a_cycle(tmp_path):
    # the checks above can fail: a planted crossing and cycle are found
    package = tmp_path / "ganzoo"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from ganzoo import a\n")
    (package / "a.py").write_text("from ganzoo.b import _helper\n")
    (package / "b.py").write_text(
        "def f():\n    from . import a\n    return a._private\n"
    )
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text(
        "from ..b import public\n\ndef g():\n    import ganzoo.b\n    return ganzoo.b._other, ganzoo.b.__name__\n"
    )
    crossings, edges = scan(tmp_path)
    assert [(i, o, n) for i, o, n, _ in crossings] == [
        ("ganzoo.a", "ganzoo.b", "_helper"),
        ("ganzoo.b", "ganzoo.a", "_private"),
        ("ganzoo.sub.c", "ganzoo.b", "_other"),
    ]
    assert edges["ganzoo.sub.c"] == {"ganzoo.b"}
    assert cycles(edges) == [frozenset({"ganzoo.a", "ganzoo.b"})]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else SRC
    found_crossings, found_edges = scan(root)
    for importer, owner, name, line in found_crossings:
        print(f"{importer}:{line} uses {owner}.{name}")
    print(f"{len(found_crossings)} private names cross a module border")
    found_cycles = cycles(found_edges)
    for c in found_cycles:
        print("cycle:", " <-> ".join(sorted(c)))
    print(f"{len(found_cycles)} import cycles")
