"""Reading what a model class's constructor and a network builder's signature say, without
TensorFlow: with :mod:`inspect` for an imported class or builder, else from the source of its
ganzoo module with :mod:`ast` (annotations with their :mod:`ganzoo.constraints`, literal
defaults, the ``check_config`` rules compiled on their own, the ``@register_network`` and
``@register_model_class`` decorators). :mod:`ganzoo.model_registry` keeps the table of model
classes and asks this module what a class's signature is; the network sections' specs
(:func:`network_spec`) are read here from :mod:`ganzoo.network_registry`'s table.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import functools
import importlib.util
import inspect
import symtable
import textwrap
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional, Union

from ganzoo import constraints
from ganzoo.constraints import split_annotated
from ganzoo.network_registry import BUILDERS, BUILT_IN_NETWORK_MODULES, CONTEXT_ARGUMENTS, NETWORK_OPTIONS, on_change

__all__ = ["PROVENANCE_ARGUMENTS", "Setting", "ClassSignature", "NetworkSpec", "class_layers", "source_layers",
           "signature_from_layers", "compile_check_config", "check_config_free_names", "network_spec",
           "network_arch_names", "source_model_classes", "class_attribute", "decorated", "inspected_params", "setting"]

# ---------------------------------------------------------------------- settings: the constructor
# A model class's ``model:`` settings are the keyword arguments of its constructor (and of its
# bases' constructors, which it passes ``**kwargs`` to) that have a default value, less the
# arguments the builder supplies from elsewhere: its networks (``network_keys``), the
# arguments it takes from other config sections (``config_arguments``, e.g. ``seed`` from
# ``train.seed``) and the provenance ``zoo_config``, and less a base's arguments that the
# class does not use (``refused_settings``: the config refuses them, naming the classes that
# take them). The annotation is the setting's type (the
# config loader coerces YAML values to it), the default its default. Nothing else declares them.
#
# A setting's range is part of its annotation (``Annotated[float, Interval(0, 1)]``, the objects
# of ganzoo.constraints: ``Setting.constraints``); a rule across keys is the class's
# ``@staticmethod check_config(config, fail)``: it calls ``fail(key, message)`` on a bad config.
# Config.validate applies both, the checks of every class of the MRO, base first (a subclass
# adds rules to its bases', it cannot drop them). Before the module is imported, both are read
# from its source: the annotation's constraints may take literal arguments only, and
# check_config, compiled on its own, may read its arguments, builtins and module-level
# constants with literal values (tests/test_model_rules.py checks it for every class).

#: Constructor arguments that ganzoo.builders passes to every class and that are no setting.
PROVENANCE_ARGUMENTS = ("zoo_config",)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One ``model:`` key of a class: its ``name``, ``type`` (from the annotation), ``default``,
    ``owner`` (the class whose constructor declares it) and ``constraints``."""

    name: str
    type: Any
    default: Any
    owner: str
    #: The :mod:`ganzoo.constraints` of its annotation (``Annotated[float, Interval(0, 1)]``).
    constraints: tuple = ()


def normalized(tp):
    """Sequence[X] / tuple[X, ...] -> list[X] (YAML gives lists), recursively in unions."""
    origin = typing.get_origin(tp)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        return Union[tuple(normalized(a) for a in typing.get_args(tp))]
    if origin in (list, tuple, Sequence, getattr(typing, "Sequence")):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return list[normalized(args[0])] if args else list
    return tp


_ANNOTATION_NAMES = {"Optional": Optional, "Union": Union, "Sequence": Sequence, "list": list, "tuple": tuple,
                     "dict": dict, "float": float, "int": int, "str": str, "bool": bool, "None": None,
                     "Any": Any, "Annotated": Annotated}


def inspected_params(function, skip_first: bool = False) -> list:
    """``(name, type, has_default, default)`` of each named argument of an imported
    ``function`` (:func:`inspect.signature`, annotations with their ``Annotated`` extras);
    ``skip_first`` leaves out ``self``. The runtime twin of :func:`function_params`."""
    hints = typing.get_type_hints(function, include_extras=True)
    params = list(inspect.signature(function).parameters.values())[1 if skip_first else 0:]
    return [(p.name, hints.get(p.name), p.default is not p.empty, None if p.default is p.empty else p.default)
            for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def setting(name: str, tp, default, owner: str) -> Setting:
    """The :class:`Setting` of an argument annotated ``tp`` (its constraints split off, the
    type normalised for YAML values)."""
    base, limits = split_annotated(tp)
    return Setting(name, None if tp is None else normalized(base), default, owner, limits)


def _own_classes(klass: type) -> list:
    """The classes of ``klass``'s MRO, subclass first, less Keras', TensorFlow's and Python's own."""
    return [k for k in klass.__mro__
            if k.__module__.split(".")[0] not in ("keras", "tensorflow", "builtins", "typing", "abc")]


def class_layers(klass: type) -> list[dict]:
    """The constructor layers of an imported class, subclass first: each ``{"owner", "params":
    [(name, type, has_default, default)], "network_keys", "config_arguments"}``."""
    layers = []
    for k in _own_classes(klass):
        params = inspected_params(k.__init__, skip_first=True) if "__init__" in vars(k) else []
        check = vars(k).get("check_config")
        if check is not None and not isinstance(check, staticmethod):
            raise TypeError(f"{k.__qualname__}.check_config must be a @staticmethod check_config(config, fail)")
        layers.append({"owner": k.__qualname__, "params": params,
                       "network_keys": vars(k).get("network_keys"),
                       "config_arguments": vars(k).get("config_arguments"),
                       "refused_settings": vars(k).get("refused_settings"),
                       "network_archs": vars(k).get("network_archs"),
                       "check_config": None if check is None else check.__func__})
    return layers


@functools.lru_cache(maxsize=None)
def module_path(module: str) -> Optional[Path]:
    """The source file of the ganzoo module ``module``, found without importing it (or None)."""
    # The file is found from the top package's folder: find_spec("a.b.c") would import a.b, and
    # ganzoo.models' __init__ imports every model class (and TensorFlow).
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        base = Path(folder).joinpath(*rest)
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if rest and path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=None)
def module_tree(module: str):
    """The parsed source (:func:`ast.parse`) of ``module`` (cached), or None without a source file."""
    path = module_path(module)
    return None if path is None else ast.parse(path.read_text(encoding="utf-8"), str(path))


def resolve_name(module: str, name: str, depth: int = 0):
    """``(module, node)`` where ``name`` of ``module`` is defined (a ClassDef, or an Assign's
    value), following ``from ganzoo... import name``; None outside ganzoo."""
    tree = module_tree(module) if module.startswith("ganzoo") and depth < 8 else None
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return module, node
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return module, node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return module, node.value
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return resolve_name(node.module, alias.name, depth + 1)
    return None


def literal(module: str, node):
    """The value of the literal ``node`` of ``module``'s source, a name followed to its literal
    definition (a module-level constant); ValueError where that takes an import."""
    if isinstance(node, ast.Name):
        found = resolve_name(module, node.id)
        if found is None:
            raise ValueError(f"{module}: cannot read the value of {node.id} without importing it")
        return literal(*found)
    return ast.literal_eval(node)


def annotation(module: str, node):
    """The value of an annotation read from ``module``'s source without importing it: typing
    names, builtin types and :mod:`ganzoo.constraints` objects built from literal arguments."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):  # a quoted annotation
            return annotation(module, ast.parse(node.value, mode="eval").body)
        if node.value is None:
            return None
    elif isinstance(node, ast.Name):
        if node.id in _ANNOTATION_NAMES:
            return _ANNOTATION_NAMES[node.id]
        found = resolve_name(module, node.id)
        if found is not None and found[0] == constraints.__name__ and isinstance(found[1], ast.ClassDef):
            return getattr(constraints, found[1].name)
        if found is not None and not isinstance(found[1], (ast.ClassDef, ast.FunctionDef)):
            return annotation(*found)  # a type alias such as ganzoo.networks.layers.Norm
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typing":
        return getattr(typing, node.attr)
    elif isinstance(node, ast.Subscript):
        base = annotation(module, node.value)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        args = tuple(annotation(module, item) for item in items)
        return base[args if len(args) > 1 else args[0]]
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[annotation(module, node.left), annotation(module, node.right)]
    elif isinstance(node, ast.Call):
        factory = annotation(module, node.func)
        if isinstance(factory, type) and issubclass(factory, constraints.Constraint):
            return factory(*[literal(module, a) for a in node.args],
                           **{k.arg: literal(module, k.value) for k in node.keywords})
    elif isinstance(node, ast.List):  # Callable[[...], ...] style argument lists
        return [annotation(module, item) for item in node.elts]
    raise ValueError(f"{module}: cannot read the annotation {ast.unparse(node)} without importing the module "
                     "(a setting's annotation may use typing names, builtin types and ganzoo.constraints "
                     "objects with literal arguments)")


def check_config_free_names(source: str) -> set:
    """The names the function defined in ``source`` reads from outside itself (its globals,
    builtins included), found with :mod:`symtable`."""
    table = symtable.symtable(textwrap.dedent(source), "<check_config>", "exec")
    names, stack = set(), list(table.get_children())
    while stack:
        child = stack.pop()
        stack.extend(child.get_children())
        names |= {sym.get_name() for sym in child.get_symbols() if sym.is_global() and sym.is_referenced()}
    return names


def compile_check_config(module: str, node: ast.FunctionDef, owner: str, static: bool = True):
    """The ``check_config`` static method of class ``owner`` compiled from its source (``node``
    of ``module``) without importing the module: it may read its arguments, builtins and
    module-level constants with literal values (``SR_SCALES = (2, 3, 4, 8)``), nothing else."""
    if static and not any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list):
        raise TypeError(f"{module}.{owner}.check_config must be a @staticmethod check_config(config, fail)")
    bare = copy.copy(node)  # keeps the line numbers of the source file for tracebacks
    bare.decorator_list = []
    namespace = {"__builtins__": builtins}
    for name in sorted(check_config_free_names(ast.unparse(bare))):
        if hasattr(builtins, name):
            continue
        try:
            namespace[name] = literal(module, ast.Name(name, ast.Load()))
        except ValueError:
            raise TypeError(f"{module}.{owner}.check_config reads '{name}', which is neither a builtin nor a "
                            "module-level constant with a literal value: configs validate without importing the "
                            "class's module, so check_config may use only its arguments, builtins and such "
                            "constants") from None
    tree = ast.fix_missing_locations(ast.Module(body=[bare], type_ignores=[]))
    exec(compile(tree, str(module_path(module) or module), "exec"), namespace)  # noqa: S102
    function = namespace[node.name]
    function.__qualname__, function.__module__ = f"{owner}.{node.name}" if static else node.name, module
    return function


def _assignments(node: ast.ClassDef) -> dict:
    """Name -> value node of each plain assignment in the body of the class ``node`` (the
    last one wins, as when the body runs)."""
    out = {}
    for item in node.body:
        if isinstance(item, ast.Assign):
            out.update({t.id: item.value for t in item.targets if isinstance(t, ast.Name)})
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
            out[item.target.id] = item.value
    return out


def source_layers(module: str, name: str) -> list[dict]:
    """:func:`class_layers` read from the source of a class's module, without importing it."""
    found = resolve_name(module, name)
    if found is None:
        return []
    module, node = found
    if not isinstance(node, ast.ClassDef):
        return []
    layer = {"owner": node.name, "params": [], "network_keys": None, "config_arguments": None,
             "refused_settings": None, "network_archs": None, "check_config": None}
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "check_config":
            layer["check_config"] = compile_check_config(module, item, node.name)
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            layer["params"] = function_params(module, item)[1:]  # less self
    assigned = _assignments(node)
    for target in ("network_keys", "config_arguments", "refused_settings", "network_archs"):
        if target in assigned:
            layer[target] = literal(module, assigned[target])
    layers = [layer]
    for base in node.bases:
        if isinstance(base, ast.Name):
            for sub in source_layers(module, base.id):
                if sub["owner"] not in {l["owner"] for l in layers}:
                    layers.append(sub)
    return layers


@dataclasses.dataclass(frozen=True)
class ClassSignature:
    """What a class's constructors say: its ``model:`` ``settings`` (key -> :class:`Setting`),
    its ``network_keys`` (arguments the builder builds networks for) and its
    ``config_arguments`` (argument -> the dotted config path the builder reads it from); and
    what the class declares about its configuration: ``network_archs`` (the ``(generator,
    discriminator)`` architectures it is built from, or None: any generic one) and ``checks``,
    the ``check_config(config, fail)`` static methods of the class and its bases, base first."""

    settings: dict
    network_keys: tuple
    config_arguments: dict
    network_archs: Optional[tuple] = None
    checks: tuple = ()


def signature_from_layers(layers: list[dict]) -> ClassSignature:
    """The :class:`ClassSignature` of a class from its constructor layers, subclass first
    (:func:`class_layers` or :func:`source_layers`)."""
    network_keys = tuple(next((l["network_keys"] for l in layers if l["network_keys"] is not None), ()))
    archs = next((l["network_archs"] for l in layers if l["network_archs"] is not None), None)
    checks = tuple(l["check_config"] for l in reversed(layers) if l["check_config"] is not None)
    config_arguments = {}
    for layer in reversed(layers):  # a subclass's entry replaces its base's
        config_arguments.update(layer["config_arguments"] or {})
    not_settings = set(network_keys) | set(config_arguments) | set(PROVENANCE_ARGUMENTS)
    settings = {}
    for layer in layers:  # subclass first: a base's argument that a subclass refuses is no setting
        not_settings |= set(layer["refused_settings"] or ())
        for name, tp, has_default, default in layer["params"]:
            if name in settings or name in not_settings or not has_default:
                continue
            settings[name] = setting(name, tp, default, layer["owner"])
    return ClassSignature(settings, network_keys, config_arguments, None if archs is None else tuple(archs), checks)


# ---------------------------------------------------------------------- network builders
# A network section (``generator:`` / ``discriminator:``) is the keyword arguments of the
# builder registered for its arch (ganzoo.network_registry.register_network): read here as a
# class's constructor is, from the source of ganzoo's own network modules (no TensorFlow), or
# with inspect for a builder registered from elsewhere.


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """What a registered builder's signature and decorator say: its section ``options`` (key
    -> :class:`Setting`, the builder's default), the ``context`` arguments it takes
    (network_registry.CONTEXT_ARGUMENTS), its ``config_arguments`` (argument -> dotted key of
    another section), its ``check(config, fail)`` (or None) and its ``note``."""

    role: str
    arch: str
    module: str
    function: str
    options: dict
    context: tuple
    config_arguments: dict
    check: Optional[Any] = None
    note: Optional[str] = None

    def reads(self) -> tuple:
        """The dotted keys the builder reads: its own section's and its config arguments'."""
        return tuple(f"{self.role}.{k}" for k in self.options) + tuple(self.config_arguments.values())


def _spec_from_params(role, arch, module, function, params, decorator) -> NetworkSpec:
    config_arguments = dict(decorator.get("config_arguments") or {})
    skip = set(config_arguments) | set(decorator.get("fixed") or ()) | {"name"}
    options, context = {}, []
    for name, tp, has_default, default in params:
        if name in CONTEXT_ARGUMENTS:
            context.append(name)
        elif name not in skip and has_default:
            options[name] = setting(name, tp, default, function)
    return NetworkSpec(role, arch, module, function, options, tuple(context), config_arguments,
                       decorator.get("check"), decorator.get("note"))


def function_params(module: str, node: ast.FunctionDef) -> list:
    """``(name, type, has_default, default)`` of each argument of the ``def`` ``node`` of
    ``module``, read from source (:func:`annotation`, :func:`literal`)."""
    args = node.args.posonlyargs + node.args.args
    defaults = [None] * (len(args) - len(node.args.defaults)) + list(node.args.defaults)
    pairs = list(zip(args, defaults)) + list(zip(node.args.kwonlyargs, node.args.kw_defaults))
    return [(arg.arg, None if arg.annotation is None else annotation(module, arg.annotation), default is not None,
             None if default is None else literal(module, default)) for arg, default in pairs]


def decorated(modules, kind: type, decorator: str):
    """``(module, node, decorator node)`` for each top-level ``kind`` (``ast.FunctionDef``,
    ``ast.ClassDef``) of the ganzoo ``modules`` decorated with ``@decorator`` or
    ``@decorator(...)``, in the order of the modules and of their source."""
    for module in modules:
        for node in module_tree(module).body:
            if not isinstance(node, kind):
                continue
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Name) and target.id == decorator:
                    yield module, node, deco


@functools.lru_cache(maxsize=None)
def _source_networks() -> dict:
    """(role, arch) -> NetworkSpec of every builder ganzoo's network modules register, read
    from their source: the ``@register_network(role, arch, ...)`` decorators and signatures."""
    found = {}
    for module, node, deco in decorated(BUILT_IN_NETWORK_MODULES, ast.FunctionDef, "register_network"):
        if not isinstance(deco, ast.Call):
            continue
        role, arch = (literal(module, a) for a in deco.args)
        decorator = {}
        for kw in deco.keywords:
            if kw.arg == "check":
                target = resolve_name(module, kw.value.id)
                decorator["check"] = compile_check_config(*target, owner=arch, static=False)
            else:
                decorator[kw.arg] = literal(module, kw.value)
        found[(role, arch)] = _spec_from_params(role, arch, module, node.name, function_params(module, node),
                                                decorator)
    return found


@functools.lru_cache(maxsize=None)
def _registered_networks() -> dict:
    """(role, arch) -> NetworkSpec: ganzoo's own (from source), then the builders registered
    from other modules (with inspect)."""
    specs = dict(_source_networks())
    for role, table in BUILDERS.items():
        for arch, builder in table.items():
            if (role, arch) in specs or (role, arch) not in NETWORK_OPTIONS:
                continue  # ganzoo's own (read from source; a stand-in put in its table keeps that signature)
            specs[(role, arch)] = _spec_from_params(role, arch, builder.__module__, builder.__name__,
                                                    inspected_params(builder),
                                                    NETWORK_OPTIONS[(role, arch)])
    return specs


def _clear_network_cache() -> None:
    _registered_networks.cache_clear()


def network_arch_names(role: str) -> tuple:
    """The registered architectures of ``role`` (``generator`` / ``discriminator``), in table order."""
    return tuple(arch for r, arch in _registered_networks() if r == role)


def network_spec(role: str, arch: str) -> NetworkSpec:
    """The :class:`NetworkSpec` of the builder registered as ``role: {arch: arch}`` (no TensorFlow)."""
    try:
        return _registered_networks()[(role, arch)]
    except KeyError:
        raise KeyError(f"no {role} architecture '{arch}' is registered (registered: "
                       f"{', '.join(network_arch_names(role))}); a builder of your own needs "
                       "@ganzoo.network_registry.register_network and its module imported first") from None


on_change(_clear_network_cache)


# ---------------------------------------------------------------------- ganzoo's own model classes
# The zoo's classes are registered where they are defined (@register_model_class); to know them
# before their modules (and TensorFlow) are imported, the decorators are read from the source of
# ganzoo's model modules, as the network builders' @register_network are above.

_ABSENT = object()


def class_attribute(module: str, node: ast.ClassDef, attribute: str, default=_ABSENT):
    """The literal value of the class attribute ``attribute`` of the class ``node`` of
    ``module``, set in its body or inherited from a base (bases in order, depth first, through
    ``from ganzoo... import``); ``default`` if none sets it (a ValueError without a default)."""
    assigned = _assignments(node)
    if attribute in assigned:
        return literal(module, assigned[attribute])
    for base in node.bases:
        found = resolve_name(module, base.id) if isinstance(base, ast.Name) else None
        if found is not None and isinstance(found[1], ast.ClassDef):
            value = class_attribute(*found, attribute, default=_ABSENT)
            if value is not _ABSENT:
                return value
    if default is _ABSENT:
        raise ValueError(f"{module}.{node.name}: no class attribute {attribute} is set in its source or its bases'")
    return default


def source_model_classes(modules) -> dict:
    """``model.cls`` name -> ``(module, data_kind)`` of every class that the ganzoo ``modules``
    register with ``@register_model_class`` (bare, or with ``name=``), in the order of the
    modules and of their source, read without importing them; ``data_kind`` is the class's
    literal class attribute or a base's (:func:`class_attribute`)."""
    found = {}
    for module, node, deco in decorated(modules, ast.ClassDef, "register_model_class"):
        given = {k.arg: k.value for k in deco.keywords} if isinstance(deco, ast.Call) else {}
        name = literal(module, given["name"]) if "name" in given else node.name
        found[name] = (module, class_attribute(module, node, "data_kind"))
    return found
