"""The package's layering holds: data flows one way.

Three checks over the source of ``src/ganzoo`` (read with ``ast``, nothing is
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

# The layers of the package, lowest first: (name, why it sits there, module
# prefixes). A prefix names a module and everything under it (``ganzoo.data``
# covers the package ``ganzoo.data`` and ``ganzoo.data.tfds``); the longest
# prefix that matches a module places it; ``ganzoo`` alone is the package's
# ``__init__`` only. A module may import modules of its own layer or of lower
# ones, never of a higher one. The old flat data modules kept as deprecation
# shims (``data_digits``, ``data_image2image``) sit with ``ganzoo.data``.
LAYERS = [
    ("leaf", "config-free math and utilities that import no other ganzoo module",
     ("ganzoo.losses", "ganzoo.augment", "ganzoo.images", "ganzoo.tiling", "ganzoo.schedules", "ganzoo.weights",
      "ganzoo.export", "ganzoo.art", "ganzoo.quiet", "ganzoo.guard", "ganzoo.distribute", "ganzoo.network",
      "ganzoo.version", "ganzoo.constraints", "ganzoo.network_registry", "ganzoo.seam")),
    ("networks", "Keras builders: keyword arguments in, a functional model out; no config, no training",
     ("ganzoo.networks",)),
    ("evaluation", "metrics on arrays, datasets and generators, and the metric objects compile() takes; "
                   "below config so it never reads a config, the registry or the data loaders",
     ("ganzoo.evaluation",)),
    ("config", "the typed configuration, the class table and the registry of entries",
     ("ganzoo.model_registry", "ganzoo.source_reader", "ganzoo.config", "ganzoo.registry")),
    ("data", "datasets from a config's data section (TFDS, folders, pairs, digits)",
     ("ganzoo.data", "ganzoo.data_digits", "ganzoo.data_image2image")),
    ("models", "the GAN classes (train_step) over networks, losses and metric objects",
     ("ganzoo.models",)),
    ("assembly", "joins config, data, models and evaluation: build, train, checkpoint, callbacks, "
                 "precision, evaluation of zoo entries",
     ("ganzoo.builders", "ganzoo.training", "ganzoo.checkpoint", "ganzoo.callbacks", "ganzoo.precision",
      "ganzoo.zoo_eval")),
    ("entry points", "the public package facade, the command line and its commands",
     ("ganzoo", "ganzoo.__main__", "ganzoo.cli", "ganzoo.commands")),
]

# Imports that run from a lower layer to a higher one on purpose, each
# ``(importer, imported): reason``. Each must still exist (a stale one fails).
ALLOWED_BACK_EDGES = {
    ("ganzoo.networks", "ganzoo.builders"):
        "ganzoo.networks.build_generator / build_discriminator (config -> network) moved up to "
        "ganzoo.builders when the network sections moved to the builders' signatures; the old names "
        "still work through the package's __getattr__, which warns (DeprecationWarning) and forwards. "
        "Remove it with those names",
    ("ganzoo.evaluation.legacy", "ganzoo.zoo_eval"):
        "the 0.1 forms of evaluation functions that took an entry name or a config (evaluate(model), "
        "load_classifier('cgan_mnist'), reference_statistics(config, ...), ...) keep working: they warn "
        "(DeprecationWarning) and forward to their new home in ganzoo.zoo_eval, in this one module; "
        "remove it with those forms. The cycle this import closes (zoo_eval calls the new forms in the "
        "same modules) is allowed with it: the cycle check leaves allowed back-edges out",
}


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


def layer_of(module, layers=LAYERS):
    """The index in ``layers`` of the layer that places ``module``, or None."""
    best, found = -1, None
    for index, (_, _, prefixes) in enumerate(layers):
        for prefix in prefixes:
            matches = module == prefix or (prefix != "ganzoo" and module.startswith(prefix + "."))
            if matches and len(prefix) > best:
                best, found = len(prefix), index
    return found


def back_edges(edges, layers=LAYERS):
    """``(importer, imported, importer's layer, imported's layer)`` for every import that runs
    from a lower layer to a higher one (modules the table does not place are left out)."""
    out = []
    for importer, imported in sorted((a, b) for a, targets in edges.items() for b in targets):
        low, high = layer_of(importer, layers), layer_of(imported, layers)
        if low is not None and high is not None and high > low:
            out.append((importer, imported, layers[low][0], layers[high][0]))
    return out


def test_every_module_has_a_layer():
    _, edges = scan()
    unplaced = sorted(m for m in edges if layer_of(m) is None)
    assert not unplaced, ("these modules are in no layer of tests/integration/test_layering.py's LAYERS; add each "
                          "to the layer its imports allow:\n  " + "\n  ".join(unplaced))


def test_no_module_imports_a_higher_layer():
    _, edges = scan()
    found = back_edges(edges)
    print(f"{len(found)} imports run to a higher layer")
    new = [e for e in found if e[:2] not in ALLOWED_BACK_EDGES]
    assert not new, "imports from a lower layer to a higher one (see LAYERS in tests/integration/test_layering.py):\n" + "\n".join(
        f"  {a} ({la}) imports {b} ({lb})" for a, b, la, lb in new)
    stale = sorted(set(ALLOWED_BACK_EDGES) - {e[:2] for e in found})
    assert not stale, f"ALLOWED_BACK_EDGES lists imports that no longer exist; remove them: {stale}"


def test_layer_check_finds_a_back_edge(tmp_path):
    # the check can fail: evaluation reading a config (even inside a function) is a back-edge
    package = tmp_path / "ganzoo"
    (package / "evaluation").mkdir(parents=True)
    (package / "data").mkdir()
    for init in (package / "__init__.py", package / "evaluation" / "__init__.py", package / "data" / "__init__.py"):
        init.write_text("")
    (package / "config.py").write_text("import ganzoo.losses\n")
    (package / "losses.py").write_text("")
    (package / "data" / "tfds.py").write_text("from ganzoo.config import Config\n")
    (package / "data_digits.py").write_text("from ganzoo.data import tfds\n")
    (package / "evaluation" / "reference.py").write_text("def f():\n    from ganzoo.data.tfds import x\n")
    _, edges = scan(tmp_path)
    assert layer_of("ganzoo.data.tfds") == layer_of("ganzoo.data_digits") == layer_of("ganzoo.data")
    assert layer_of("ganzoo") != layer_of("ganzoo.losses") and layer_of("ganzoo.unknown") is None
    assert [e[:2] for e in back_edges(edges)] == [("ganzoo.evaluation.reference", "ganzoo.data.tfds")]


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
    edges = {m: {t for t in targets if (m, t) not in ALLOWED_BACK_EDGES} for m, targets in edges.items()}
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
    found_cycles = cycles({m: {t for t in ts if (m, t) not in ALLOWED_BACK_EDGES} for m, ts in found_edges.items()})
    for c in found_cycles:
        print("cycle:", " <-> ".join(sorted(c)))
    print(f"{len(found_cycles)} import cycles")
    found_back = back_edges(found_edges)
    for a, b, la, lb in found_back:
        allowed = " (allowed)" if (a, b) in ALLOWED_BACK_EDGES else ""
        print(f"back-edge: {a} ({la}) -> {b} ({lb}){allowed}")
    print(f"{len(found_back)} imports run to a higher layer")
    for m in sorted(m for m in found_edges if layer_of(m) is None):
        print("no layer:", m)
