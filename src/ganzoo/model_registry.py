"""The one table of model classes: ``model.cls`` name -> the class that trains it.

A class joins the zoo with the :func:`register_model_class` decorator in the module that
defines it (as timm's ``@register_model``)::

    @register_model_class
    @keras.saving.register_keras_serializable(package="my_gans")
    class RelativisticGAN(GAN):
        ...

after which ``model.cls: RelativisticGAN`` is a valid config value and ``ganzoo.load`` builds
it. ``ganzoo.models.MODEL_CLASSES`` and ``ganzoo.config.MODEL_CLASSES`` /
``IMAGE_TO_IMAGE_CLASSES`` are read-only views of this table.

What data and training need from a class (its data kind, the minibatches one training step
consumes, ...) the class itself declares as class attributes (documented on
:class:`ganzoo.models.base.AdversarialModel`); code that used to test ``model.cls`` against
class names asks the class (:func:`model_class`) or its record (:func:`model_class_info`).

Nothing here imports TensorFlow. The zoo's own classes are known by name, module and data
kind before their module is imported, so that configs validate without TensorFlow
(``GANZOO_LAZY_IMPORT=1``, ``ganzoo list``); when the module is imported, its decorator
checks that the class declares the same data kind.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import functools
import importlib
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

__all__ = ["DATA_KINDS", "ModelClassInfo", "Setting", "ClassSignature", "class_signature", "model_settings",
           "loaded_model_class", "register_model_class", "unregister_model_class", "model_class",
           "model_class_info", "model_class_names", "image_to_image_class_names", "compile_check_config",
           "check_config_free_names", "source_class_signature", "NetworkSpec", "network_spec", "network_arch_names",
           "argument_constraints", "check_constructor_arguments"]

#: What ``ganzoo.load_dataset`` yields for a class of each data kind (its ``data_kind``).
DATA_KINDS = {
    "latent": "single images (with int labels for a conditional model); the model draws its own latents",
    "paired_lr_hr": "(low-resolution, high-resolution) pairs of the same pictures",
    "unpaired_ab": "(a, b) pictures from two domains, not matched to each other",
}


@dataclasses.dataclass(frozen=True)
class ModelClassInfo:
    """What the registry knows of a model class without importing it: its ``model.cls`` name,
    the module that defines it and its :data:`DATA_KINDS` entry."""

    name: str
    module: str
    data_kind: str

    @property
    def image_to_image(self) -> bool:
        """Whether the class maps images to images (its data are pairs, not single images)."""
        return self.data_kind != "latent"


#: The zoo's own classes, in the order of the zoo table: name -> (module, data kind). Their
#: modules register them with the decorator like any other class; this row only makes the
#: name known (for config validation) before the module, and TensorFlow, is imported.
_BUILT_IN = {
    "GAN": ("ganzoo.models.gan", "latent"),
    "ConditionalGAN": ("ganzoo.models.gan", "latent"),
    "WassersteinGAN": ("ganzoo.models.wgan", "latent"),
    "SRGAN": ("ganzoo.models.srgan", "paired_lr_hr"),
    "CycleGAN": ("ganzoo.models.cyclegan", "unpaired_ab"),
    "ProgressiveGAN": ("ganzoo.models.pggan", "latent"),
    "StyleGAN": ("ganzoo.models.stylegan", "latent"),
}
_INFO: dict[str, ModelClassInfo] = {name: ModelClassInfo(name, module, kind)
                                    for name, (module, kind) in _BUILT_IN.items()}
_CLASSES: dict[str, type] = {}


def register_model_class(cls: Optional[type] = None, *, name: Optional[str] = None):
    """Class decorator: register ``cls`` as ``model.cls: <name>`` (default: the class's name).

    Usable bare (``@register_model_class``) or with a name (``@register_model_class(name="X")``).
    The class must declare a ``data_kind`` of :data:`DATA_KINDS` (the base classes do). A name
    taken by another class is refused (:func:`unregister_model_class` frees it); registering
    a class of the same module and name again (a re-executed module) replaces it.
    """
    def register(klass: type) -> type:
        key = name or klass.__name__
        kind = getattr(klass, "data_kind", None)
        if kind not in DATA_KINDS:
            raise TypeError(f"{klass.__qualname__}.data_kind must be one of {', '.join(DATA_KINDS)}, got {kind!r}; "
                            "subclass a ganzoo model class (ganzoo.models.GAN, ...) or declare it")
        known = _INFO.get(key)
        if known is not None and known.module != klass.__module__ and key in _BUILT_IN:
            raise ValueError(f"model.cls '{key}' is one of ganzoo's own classes ({known.module}); "
                             f"register {klass.__module__}.{klass.__qualname__} under another name "
                             "(register_model_class(name=...))")
        if key in _BUILT_IN and _BUILT_IN[key][1] != kind:
            raise TypeError(f"{klass.__module__}.{klass.__qualname__} declares data_kind '{kind}' but the registry "
                            f"lists {key} as '{_BUILT_IN[key][1]}' (ganzoo/model_registry.py): make them agree")
        old = _CLASSES.get(key)
        if old is not None and (old.__module__, old.__qualname__) != (klass.__module__, klass.__qualname__):
            raise ValueError(f"model.cls '{key}' is already registered to {old.__module__}.{old.__qualname__}; "
                             "choose another name (register_model_class(name=...)) or unregister_model_class "
                             f"('{key}') first")
        _INFO[key] = ModelClassInfo(key, klass.__module__, kind)
        _CLASSES[key] = klass
        class_signature.cache_clear()
        _check_settings_are_typed(key)
        return klass

    return register if cls is None else register(cls)


def unregister_model_class(name: str) -> None:
    """Remove a class registered with :func:`register_model_class` (not one of ganzoo's own)."""
    if name in _BUILT_IN:
        raise ValueError(f"'{name}' is one of ganzoo's own model classes and stays registered")
    if name not in _INFO:
        raise KeyError(f"no model class '{name}' is registered")
    del _INFO[name]
    _CLASSES.pop(name, None)
    class_signature.cache_clear()


def model_class_names() -> tuple:
    """The registered ``model.cls`` names: ganzoo's own, then the others in registration order."""
    return tuple(_INFO)


def image_to_image_class_names() -> tuple:
    """The registered classes that map images to images (see :attr:`ModelClassInfo.image_to_image`)."""
    return tuple(name for name, info in _INFO.items() if info.image_to_image)


def model_class_info(name: str) -> ModelClassInfo:
    """The record of ``name`` (no import, no TensorFlow); KeyError naming the registered classes."""
    try:
        return _INFO[name]
    except KeyError:
        raise KeyError(f"unknown model class '{name}' (registered: {', '.join(_INFO)}); a class of your own "
                       "needs @ganzoo.registry.register_model_class and its module imported first") from None


def model_class(name: str) -> type:
    """The class registered as ``name``, importing its module first if needed (TensorFlow)."""
    info = model_class_info(name)
    if name not in _CLASSES:
        importlib.import_module(info.module)
        if name not in _CLASSES:
            raise ImportError(f"{info.module} was imported but registered no model class '{name}' "
                              "(is its @register_model_class missing?)")
    return _CLASSES[name]


def loaded_model_class(name: str) -> Optional[type]:
    """The class registered as ``name`` if its module is imported already, else None (no import)."""
    return _CLASSES.get(name)


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


def _normalized(tp):
    """Sequence[X] / tuple[X, ...] -> list[X] (YAML gives lists), recursively in unions."""
    origin = typing.get_origin(tp)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        return Union[tuple(_normalized(a) for a in typing.get_args(tp))]
    if origin in (list, tuple, Sequence, getattr(typing, "Sequence")):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return list[_normalized(args[0])] if args else list
    return tp


_ANNOTATION_NAMES = {"Optional": Optional, "Union": Union, "Sequence": Sequence, "list": list, "tuple": tuple,
                     "dict": dict, "float": float, "int": int, "str": str, "bool": bool, "None": None,
                     "Any": Any, "Annotated": Annotated}


def _own_classes(klass: type) -> list:
    """The classes of ``klass``'s MRO, subclass first, less Keras', TensorFlow's and Python's own."""
    return [k for k in klass.__mro__
            if k.__module__.split(".")[0] not in ("keras", "tensorflow", "builtins", "typing", "abc")]


def _class_layers(klass: type) -> list[dict]:
    """The constructor layers of an imported class, subclass first: each ``{"owner", "params":
    [(name, type, has_default, default)], "network_keys", "config_arguments"}``."""
    layers = []
    for k in _own_classes(klass):
        params = []
        if "__init__" in vars(k):
            hints = typing.get_type_hints(k.__init__, include_extras=True)
            for p in list(inspect.signature(k.__init__).parameters.values())[1:]:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                params.append((p.name, hints.get(p.name), p.default is not p.empty,
                               None if p.default is p.empty else p.default))
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
def _module_path(module: str) -> Optional[Path]:
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
def _module_tree(module: str):
    path = _module_path(module)
    return None if path is None else ast.parse(path.read_text(encoding="utf-8"), str(path))


def _resolve_name(module: str, name: str, depth: int = 0):
    """``(module, node)`` where ``name`` of ``module`` is defined (a ClassDef, or an Assign's
    value), following ``from ganzoo... import name``; None outside ganzoo."""
    tree = _module_tree(module) if module.startswith("ganzoo") and depth < 8 else None
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
                    return _resolve_name(node.module, alias.name, depth + 1)
    return None


def _literal(module: str, node):
    if isinstance(node, ast.Name):
        found = _resolve_name(module, node.id)
        if found is None:
            raise ValueError(f"{module}: cannot read the value of {node.id} without importing it")
        return _literal(*found)
    return ast.literal_eval(node)


def _annotation(module: str, node):
    """The value of an annotation read from ``module``'s source without importing it: typing
    names, builtin types and :mod:`ganzoo.constraints` objects built from literal arguments."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):  # a quoted annotation
            return _annotation(module, ast.parse(node.value, mode="eval").body)
        if node.value is None:
            return None
    elif isinstance(node, ast.Name):
        if node.id in _ANNOTATION_NAMES:
            return _ANNOTATION_NAMES[node.id]
        found = _resolve_name(module, node.id)
        if found is not None and found[0] == constraints.__name__ and isinstance(found[1], ast.ClassDef):
            return getattr(constraints, found[1].name)
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typing":
        return getattr(typing, node.attr)
    elif isinstance(node, ast.Subscript):
        base = _annotation(module, node.value)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        args = tuple(_annotation(module, item) for item in items)
        return base[args if len(args) > 1 else args[0]]
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[_annotation(module, node.left), _annotation(module, node.right)]
    elif isinstance(node, ast.Call):
        factory = _annotation(module, node.func)
        if isinstance(factory, type) and issubclass(factory, constraints.Constraint):
            return factory(*[_literal(module, a) for a in node.args],
                           **{k.arg: _literal(module, k.value) for k in node.keywords})
    elif isinstance(node, ast.List):  # Callable[[...], ...] style argument lists
        return [_annotation(module, item) for item in node.elts]
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
            namespace[name] = _literal(module, ast.Name(name, ast.Load()))
        except ValueError:
            raise TypeError(f"{module}.{owner}.check_config reads '{name}', which is neither a builtin nor a "
                            "module-level constant with a literal value: configs validate without importing the "
                            "class's module, so check_config may use only its arguments, builtins and such "
                            "constants") from None
    tree = ast.fix_missing_locations(ast.Module(body=[bare], type_ignores=[]))
    exec(compile(tree, str(_module_path(module) or module), "exec"), namespace)  # noqa: S102
    function = namespace[node.name]
    function.__qualname__, function.__module__ = f"{owner}.{node.name}" if static else node.name, module
    return function


def _source_layers(module: str, name: str, seen=None) -> list[dict]:
    """:func:`_class_layers` read from the source of a class's module, without importing it."""
    found = _resolve_name(module, name)
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
            args = item.args.posonlyargs + item.args.args
            defaults = [None] * (len(args) - len(item.args.defaults)) + list(item.args.defaults)
            pairs = list(zip(args, defaults))[1:] + list(zip(item.args.kwonlyargs, item.args.kw_defaults))
            for arg, default in pairs:
                tp = None if arg.annotation is None else _annotation(module, arg.annotation)
                layer["params"].append((arg.arg, tp, default is not None,
                                        None if default is None else _literal(module, default)))
        targets = []
        if isinstance(item, ast.Assign):
            targets = [t.id for t in item.targets if isinstance(t, ast.Name)]
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
            targets = [item.target.id]
        for target in targets:
            if target in ("network_keys", "config_arguments", "refused_settings", "network_archs"):
                layer[target] = _literal(module, item.value)
    layers = [layer]
    for base in node.bases:
        if isinstance(base, ast.Name):
            for sub in _source_layers(module, base.id):
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


def _signature_from_layers(layers: list[dict]) -> ClassSignature:
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
            base, limits = split_annotated(tp)
            settings[name] = Setting(name, None if tp is None else _normalized(base), default, layer["owner"], limits)
    return ClassSignature(settings, network_keys, config_arguments, None if archs is None else tuple(archs), checks)


@functools.lru_cache(maxsize=None)
def class_signature(name: str) -> ClassSignature:
    """The :class:`ClassSignature` of the class registered as ``name``, read from its
    constructors: with :mod:`inspect` when its module is imported, else from its module's
    source (configs validate without TensorFlow); tests/test_model_settings.py checks that
    both readings agree for every class of the zoo."""
    klass = _CLASSES.get(name)
    if klass is not None:
        return _signature_from_layers(_class_layers(klass))
    return source_class_signature(name) or _signature_from_layers(_class_layers(model_class(name)))


def source_class_signature(name: str) -> Optional[ClassSignature]:
    """The :class:`ClassSignature` of the class registered as ``name`` read from its module's
    source, whether or not the module is imported (its ``check_config`` methods compiled from
    the source); None for a class whose source is not a ganzoo module."""
    layers = _source_layers(model_class_info(name).module, name)
    return _signature_from_layers(layers) if layers else None


def model_settings(name: str) -> dict:
    """``model:`` key -> :class:`Setting` of the class registered as ``name``: the keyword
    arguments with a default of its constructors (see :func:`class_signature`)."""
    return class_signature(name).settings


def _check_settings_are_typed(name: str) -> None:
    untyped = [s.name for s in model_settings(name).values() if s.type is None]
    if untyped:
        raise TypeError(f"model class {name}: constructor argument(s) {', '.join(untyped)} have a default but no "
                        "type annotation; a model: setting needs one (the config loader coerces YAML values to it), "
                        "or list the argument in the class's network_keys / config_arguments if the builder "
                        "supplies it")



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
    from ganzoo.network_registry import CONTEXT_ARGUMENTS  # noqa: PLC0415 (a leaf; no cycle)

    config_arguments = dict(decorator.get("config_arguments") or {})
    skip = set(config_arguments) | set(decorator.get("fixed") or ()) | {"name"}
    options, context = {}, []
    for name, tp, has_default, default in params:
        if name in CONTEXT_ARGUMENTS:
            context.append(name)
        elif name not in skip and has_default:
            base, limits = split_annotated(tp)
            options[name] = Setting(name, None if tp is None else _normalized(base), default, function, limits)
    return NetworkSpec(role, arch, module, function, options, tuple(context), config_arguments,
                       decorator.get("check"), decorator.get("note"))


def _function_params(module: str, node: ast.FunctionDef) -> list:
    args = node.args.posonlyargs + node.args.args
    defaults = [None] * (len(args) - len(node.args.defaults)) + list(node.args.defaults)
    pairs = list(zip(args, defaults)) + list(zip(node.args.kwonlyargs, node.args.kw_defaults))
    return [(arg.arg, None if arg.annotation is None else _annotation(module, arg.annotation), default is not None,
             None if default is None else _literal(module, default)) for arg, default in pairs]


@functools.lru_cache(maxsize=None)
def _source_networks() -> dict:
    """(role, arch) -> NetworkSpec of every builder ganzoo's network modules register, read
    from their source: the ``@register_network(role, arch, ...)`` decorators and signatures."""
    from ganzoo.network_registry import BUILT_IN_NETWORK_MODULES  # noqa: PLC0415

    found = {}
    for module in BUILT_IN_NETWORK_MODULES:
        for node in _module_tree(module).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if not (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name)
                        and deco.func.id == "register_network"):
                    continue
                role, arch = (_literal(module, a) for a in deco.args)
                decorator = {}
                for kw in deco.keywords:
                    if kw.arg == "check":
                        target = _resolve_name(module, kw.value.id)
                        decorator["check"] = compile_check_config(*target, owner=arch, static=False)
                    else:
                        decorator[kw.arg] = _literal(module, kw.value)
                found[(role, arch)] = _spec_from_params(role, arch, module, node.name,
                                                        _function_params(module, node), decorator)
    return found


@functools.lru_cache(maxsize=None)
def _registered_networks() -> dict:
    """(role, arch) -> NetworkSpec: ganzoo's own (from source), then the builders registered
    from other modules (with inspect)."""
    from ganzoo.network_registry import BUILDERS, NETWORK_OPTIONS  # noqa: PLC0415

    specs = dict(_source_networks())
    for role, table in BUILDERS.items():
        for arch, builder in table.items():
            if (role, arch) in specs or (role, arch) not in NETWORK_OPTIONS:
                continue  # ganzoo's own (read from source; a stand-in put in its table keeps that signature)
            hints = typing.get_type_hints(builder, include_extras=True)
            params = [(p.name, hints.get(p.name), p.default is not p.empty, None if p.default is p.empty else p.default)
                      for p in inspect.signature(builder).parameters.values()
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            specs[(role, arch)] = _spec_from_params(role, arch, builder.__module__, builder.__name__, params,
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


def _listen() -> None:
    from ganzoo.network_registry import on_change  # noqa: PLC0415

    on_change(_clear_network_cache)


_listen()


# ---------------------------------------------------------------------- a direct constructor call
# A setting's range is written once, in its annotation, and holds for a config (Config.validate)
# and for a direct call (``StyleGAN(g, d, style_mixing_prob=2)`` from a pipeline of one's own):
# the zoo's base model class calls check_constructor_arguments with the arguments of every
# construction, keras.saving's from_config included, before any constructor runs.

@functools.lru_cache(maxsize=None)
def argument_constraints(klass: type) -> dict:
    """Constructor argument -> ``(type, constraints)`` of ``klass`` and its bases, for every
    argument whose annotation carries :mod:`ganzoo.constraints`; a subclass's annotation of an
    argument replaces its base's (as for :func:`class_signature`'s settings). Read at runtime
    (:func:`typing.get_type_hints`); any argument counts, a setting or not (a base's argument a
    subclass refuses as a setting is still checked when passed)."""
    found = {}
    for layer in _class_layers(klass):
        for name, tp, _, _ in layer["params"]:
            found.setdefault(name, split_annotated(tp))
    return {name: pair for name, pair in found.items() if pair[1]}


def _type_text(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is Union and len(args) == 1:
        return f"{_type_text(args[0])} or None"
    return getattr(tp, "__name__", str(tp))


def check_constructor_arguments(klass: type, args: tuple, kwargs: dict) -> None:
    """Check the arguments of a call ``klass(*args, **kwargs)`` against the constraints of
    their annotations (:func:`argument_constraints`): a ValueError names the class, each bad
    argument and the constraint's problem in the config's words without the ``model.`` prefix
    (``StyleGAN argument style_mixing_prob: must be in [0, 1], got 2``). Keyword arguments that
    ``klass``'s constructor passes on to its bases (``**kwargs``) are checked against the
    bases' annotations; None passes (an optional setting left unset); arguments not given are
    left to their defaults. Arguments that do not bind are left to the constructor's own
    TypeError."""
    limits = argument_constraints(klass)
    if not limits:
        return
    signature = inspect.signature(klass.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return
    values = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            values.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            values[name] = value
    problems = []
    for name, (tp, found) in limits.items():
        if name not in values:
            continue
        for limit in found:
            try:
                problem = limit.problem(values[name])
            except TypeError:  # a value the constraint cannot compare ("0.5" for a float)
                problem = f"must be {_type_text(tp)}, got {values[name]!r}"
            if problem:
                problems.append(f"{name}: {problem}")
                break
    if problems:
        raise ValueError(f"{klass.__name__} argument{'s' if len(problems) > 1 else ''} {'; '.join(problems)}")
