"""Read a PyTorch ``.pth`` state dict into numpy arrays without PyTorch.

Converting pytorch-fid's FID Inception weights should not need a 1-GB PyTorch install. A
state dict file is a pickle whose tensors point at raw storages; both of PyTorch's formats
are read here:

* the zip format (PyTorch >= 1.6's default): ``<name>/data.pkl`` and ``<name>/data/<key>``;
* the legacy stream (before 1.6): a magic number, the protocol version, the system info, the
  pickle, the list of storage keys, then each storage as an int64 element count and its bytes.

Only what a state dict holds is accepted (dicts, OrderedDicts, tensors, parameters, numbers,
strings): the unpickler resolves no other global, so reading an untrusted file cannot run
code. A tensor becomes a numpy array with its dtype, shape and strides (little-endian files).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Union

import numpy as np

__all__ = ["load_state_dict", "TorchFileError"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """The file is not a PyTorch state dict this reader understands."""


class _Storage:
    def __init__(self, dtype, numel: int):
        self.dtype = np.dtype(dtype)
        self.numel = int(numel)
        self.array = None


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        data = self.storage.array
        if data is None:
            raise TorchFileError("a tensor's storage was never read (truncated file?)")
        if not self.size:
            return np.array(data[self.offset])
        itemsize = data.dtype.itemsize
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, data.dtype)
        if needed > len(data):
            raise TorchFileError("a tensor reaches past the end of its storage (corrupt file?)")
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=tuple(s * itemsize for s in self.stride))
        return np.array(view)  # a copy: contiguous, owns its memory


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return data


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storage_for):
        super().__init__(file, encoding="utf-8")
        self._storage_for = storage_for

    def find_class(self, module, name):
        if (module, name) in _GLOBALS:
            return _GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchFileError(f"the file refers to {module}.{name}, which a plain state dict does not hold; "
                             "only state dicts of tensors are read (save one with torch.save(model.state_dict()))")

    def persistent_load(self, saved_id):
        if not isinstance(saved_id, tuple) or not saved_id or _text(saved_id[0]) != "storage":
            raise TorchFileError(f"unsupported persistent id {saved_id!r:.80}")
        return self._storage_for(saved_id[1:])


def _text(value) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _finish(obj):
    if isinstance(obj, _Tensor):
        return obj.to_numpy()
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for key, value in obj.items():
            out[key] = _finish(value)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_finish(v) for v in obj)
    return obj


def _load_zip(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise TorchFileError(f"{path}: a zip file but not a PyTorch checkpoint (no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        order = archive.read(f"{prefix}byteorder").decode().strip() if f"{prefix}byteorder" in names else "little"
        if order != "little":
            raise TorchFileError(f"{path}: big-endian checkpoints are not supported")
        storages = {}

        def storage_for(data):
            storage_type, key, _location, numel = data[:4]
            key = _text(key)
            if key not in storages:
                dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else np.uint8
                storage = _Storage(dtype, numel)
                raw = archive.read(f"{prefix}data/{key}")
                storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
                storages[key] = storage
            return storages[key]

        result = _Unpickler(io.BytesIO(archive.read(pickles[0])), storage_for).load()
    return _finish(result)


def _load_legacy(path: Path) -> dict:
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
        except Exception as err:  # noqa: BLE001 - any unreadable start means "not this format"
            raise TorchFileError(f"{path}: not a PyTorch file ({err})") from None
        if magic != _LEGACY_MAGIC:
            raise TorchFileError(f"{path}: not a PyTorch file (no zip archive, no legacy magic number)")
        protocol = pickle.load(f)
        if protocol != _LEGACY_PROTOCOL:
            raise TorchFileError(f"{path}: legacy PyTorch protocol {protocol} is not supported")
        sys_info = pickle.load(f)
        if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
            raise TorchFileError(f"{path}: big-endian checkpoints are not supported")
        storages = {}

        def storage_for(data):
            storage_type, root_key, _location, numel, view_metadata = data
            if view_metadata is not None:
                raise TorchFileError(f"{path}: storage views (PyTorch < 1.0 files) are not supported")
            root_key = _text(root_key)
            if root_key not in storages:
                storages[root_key] = _Storage(storage_type.dtype, numel)
            return storages[root_key]

        result = _Unpickler(f, storage_for).load()
        keys = pickle.load(f)
        for key in keys:
            storage = storages[_text(key)]
            (numel,) = struct.unpack("<q", f.read(8))
            raw = f.read(numel * storage.dtype.itemsize)
            if len(raw) != numel * storage.dtype.itemsize:
                raise TorchFileError(f"{path}: truncated (storage {key} is short)")
            storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return _finish(result)


def load_state_dict(path: Union[str, Path]) -> dict:
    """``{name: numpy array}`` of a ``torch.save``-d state dict (zip or legacy format)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    result = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    if isinstance(result, dict) and "state_dict" in result and isinstance(result["state_dict"], dict):
        result = result["state_dict"]
    if not isinstance(result, dict):
        raise TorchFileError(f"{path}: holds a {type(result).__name__}, not a state dict")
    return dict(result)
