"""Reading images for the input pipelines: TFDS datasets, folders of image files, and the errors.

The low layer under :mod:`ganzoo.data` (``load_dataset``), :mod:`ganzoo.data_digits`,
:mod:`ganzoo.data_image2image` and :mod:`ganzoo.evaluation`: it imports none of them, so data
flows one way (``data`` dispatches to ``data_image2image`` and ``data_digits``, and all of them
read through here). :class:`DataError`, :class:`FolderReport` and :data:`IMAGE_EXTENSIONS` are
also importable from :mod:`ganzoo.data`, where they are documented for users.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ganzoo.network import network_reachable  # the one probe (Keras weights share it)

__all__ = ["DataError", "FolderReport", "IMAGE_EXTENSIONS", "few_paths", "list_images", "network_reachable",
           "pil_convert", "read_folder", "tf_square_resize", "tfds_load"]

# The messages keep the logger of ganzoo.data, where they were logged before this module split off.
logger = logging.getLogger("ganzoo.data")

#: File name endings (lower case) collected from a folder source.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


#: Files the TFDS ``celeb_a`` builder (tensorflow-datasets 4.9.x) downloads from Google Drive,
#: with the names its checksum file registers (TFDS checks their size and sha256).
_CELEBA_FILES = (
    "img_align_celeba.zip",
    "list_eval_partition.txt",
    "list_attr_celeba.txt",
    "list_landmarks_align_celeba.txt",
    "identity_CelebA.txt",
)


class DataError(ValueError):
    """The data is missing, unreadable or does not fit the config; the message says what to do."""


@dataclass
class FolderReport:
    """What :func:`ganzoo.data.scan_folder` found in a folder of images."""

    path: Path
    #: Candidate files (known image extensions, hidden files skipped).
    files: int = 0
    #: Files Pillow could decode.
    readable: int = 0
    #: Files Pillow could not decode (corrupt, truncated, not really images).
    unreadable: list[Path] = field(default_factory=list)
    #: PIL modes of the readable files as stored (``RGB``, ``L``, ``RGBA``, ``P``, ``CMYK``...).
    modes: Counter = field(default_factory=Counter)
    #: ``(width, height)`` of the readable files (after EXIF orientation).
    sizes: Counter = field(default_factory=Counter)
    #: Readable images whose square (crop) is smaller than ``image_size``: they get upscaled.
    too_small: int = 0
    #: Groups of byte-identical files (each group has two or more paths).
    duplicates: list[list[Path]] = field(default_factory=list)
    #: First-level subfolders holding images, sorted: the class names of a labelled folder.
    classes: list[str] = field(default_factory=list)
    image_size: Optional[int] = None

    def summary(self) -> str:
        """A short human-readable report."""
        lines = [f"{self.path}: {self.files} image files, {self.readable} readable, "
                 f"{len(self.unreadable)} unreadable"]
        if self.unreadable:
            lines.append(f"  unreadable: {few_paths(self.unreadable, self.path)}")
        if self.modes:
            lines.append("  modes: " + ", ".join(f"{m} {n}" for m, n in self.modes.most_common()))
        if self.sizes:
            common = ", ".join(f"{w}x{h} ({n})" for (w, h), n in self.sizes.most_common(3))
            more = f" and {len(self.sizes) - 3} other sizes" if len(self.sizes) > 3 else ""
            lines.append(f"  sizes: {common}{more}")
        if self.image_size is not None:
            lines.append(f"  smaller than {self.image_size}px (upscaled): {self.too_small}")
        if self.duplicates:
            n = sum(len(g) for g in self.duplicates)
            lines.append(f"  duplicates: {len(self.duplicates)} groups of identical files ({n} files), "
                         f"e.g. {few_paths(self.duplicates[0], self.path)}")
        if self.classes:
            lines.append(f"  classes ({len(self.classes)}): {', '.join(self.classes[:10])}"
                         + (" ..." if len(self.classes) > 10 else ""))
        return "\n".join(lines)


# ====================================================================== helpers

def few_paths(paths, root: Optional[Path] = None, n: int = 3) -> str:
    """``a.png, b.png, c.png (+4 more)``, relative to ``root`` when possible."""
    def show(p):
        try:
            return str(Path(p).relative_to(root)) if root else str(p)
        except ValueError:
            return str(p)
    paths = list(paths)
    text = ", ".join(show(p) for p in paths[:n])
    return text + (f" (+{len(paths) - n} more)" if len(paths) > n else "")


def tf_square_resize(image, size: int, channels: int, crop: Optional[int]):
    """uint8 (h, w, c) -> center square (``crop`` or the short side) -> uint8 (size, size, channels)."""
    import tensorflow as tf

    height, width, in_channels = image.shape
    if height is not None and width is not None:  # static: plain ints, nothing to trace
        side = min(height, width, crop or max(height, width))
        top, left = (height - side) // 2, (width - side) // 2
    else:
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        if crop:
            side = tf.minimum(side, crop)
        top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    if not (isinstance(side, int) and side == height == width):
        image = tf.image.crop_to_bounding_box(image, top, left, side, side)

    convert = in_channels != channels
    if not convert and isinstance(side, int) and side == size:
        return image  # already the right size and channels: leave the bytes untouched
    image = tf.cast(image, tf.float32)
    if convert and channels == 1:
        image = tf.image.rgb_to_grayscale(image)  # before resizing: a third of the work
    if not (isinstance(side, int) and side == size):
        image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    if convert and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    return tf.ensure_shape(image, (size, size, channels))


def tfds_load(name: str, split: str, data_dir: Optional[str], *, shuffle: bool,
               seed: Optional[int], download: Optional[bool]):
    """``tfds.load`` without download first; on a missing dataset download or fail fast."""
    import tensorflow_datasets as tfds

    # tfds reads TFDS_DATA_DIR once, when it is imported; read it here so that setting the
    # variable later (a notebook, ``--data-dir``) still counts.
    data_dir = str(Path(data_dir).expanduser()) if data_dir else os.environ.get("TFDS_DATA_DIR") or None
    kwargs = dict(split=split, data_dir=data_dir, shuffle_files=shuffle, with_info=True,
                  read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False))
    try:
        return tfds.load(name, download=False, **kwargs)
    except tfds.core.DatasetNotFoundError:
        raise DataError(_unknown_name_message(name)) from None
    except AssertionError:  # tfds 4.9: "Dataset <name>: could not find data in <data_dir>"
        pass
    except ValueError as err:
        if "split" in str(err).lower():
            raise DataError(f"TFDS '{name}': {err} Set data.split (or pass split=).") from None
        raise

    if download is False or (download is None and not network_reachable()):
        reason = (" and download=False" if download is False else
                  " and cannot be downloaded: no network (or env GANZOO_OFFLINE=1)")
        raise DataError(_missing_message(name, data_dir, reason))
    logger.info("TFDS '%s' is not prepared in %s: downloading and preparing it", name, _searched(data_dir))
    try:
        return tfds.load(name, download=True, **kwargs)
    except Exception as err:  # noqa: BLE001 - any download failure gets the manual instructions
        raise DataError(f"downloading TFDS '{name}' failed: {type(err).__name__}: {err}\n\n"
                        + _missing_message(name, data_dir, "")) from err


def _searched(data_dir: Optional[str]) -> str:
    return data_dir or str(Path("~/tensorflow_datasets").expanduser()) + " (the default; TFDS_DATA_DIR is not set)"


def _unknown_name_message(name: str) -> str:
    import tensorflow_datasets as tfds

    base = name.split(":")[0].split("/")[0]
    close = difflib.get_close_matches(base, tfds.list_builders(), n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (f"'{name}' is not a TensorFlow Datasets name.{hint} Set data.name to a TFDS dataset "
            "(see tfds.list_builders()), or use a local folder of images with data.source: folder "
            "and data.path.")


def _missing_message(name: str, data_dir: Optional[str], reason: str) -> str:
    base = name.split(":")[0].split("/")[0]
    text = (
        f"TFDS dataset '{name}' is not prepared in {_searched(data_dir)}{reason}. To provide it:\n"
        f"  * on a machine with internet, run `tfds build {base} --data_dir DIR` (or call "
        f"ganzoo.load_dataset(..., download=True) there once), copy DIR, which then holds "
        f"{base}/<version>/, to this machine, and point ganzoo at it: set TFDS_DATA_DIR=DIR, pass "
        "data_dir=DIR, or use `--data-dir DIR` on the command line;\n"
        "  * or train on a local folder of images instead: data.source: folder, data.path: FOLDER."
    )
    if base == "celeb_a":
        text += "\n\n" + _celeba_instructions(data_dir)
    return text


def _celeba_instructions(data_dir: Optional[str]) -> str:
    root = data_dir or "~/tensorflow_datasets"
    manual = f"{root}/downloads/manual"
    files = "\n".join(f"      {f}" for f in _CELEBA_FILES)
    return (
        "CelebA: the TFDS celeb_a builder downloads its files from Google Drive, which usually fails "
        "(download quota exceeded, or an HTML virus-scan page instead of the file, reported as a "
        "NonMatchingChecksumError). Place the files by hand instead:\n"
        "  1. get the original files from the CelebA page "
        "(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, Google Drive or Baidu folders "
        "Img/, Eval/ and Anno/):\n"
        f"{files}\n"
        f"  2. put them, unmodified and with exactly these names, in {manual}/ "
        "(TFDS checks each file's size and sha256 against its registered checksums, so re-packed "
        "copies such as Kaggle's CSV files are rejected);\n"
        f"  3. run `tfds build celeb_a --data_dir {root}` (or pass --manual_dir FOLDER if the files "
        "are elsewhere). It reads the files from there instead of Google Drive and writes "
        f"{root}/celeb_a/2.1.0/.\n"
        "Or, for an unconditional model, unzip img_align_celeba.zip and use the folder source: "
        "data.source: folder, data.path: .../img_align_celeba, data.crop: 140."
    )


def list_images(root: Path) -> list[Path]:
    """Image files under ``root``, recursively, sorted; hidden files and folders skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames
                     if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(found)


def read_folder(root: Path, *, image_size: Optional[int] = None, crop: Optional[int] = None,
                 channels: Optional[int] = None, with_labels: bool = False,
                 limit: Optional[int] = None):
    """Decode every image under ``root`` once: the report, and if ``channels`` is given the
    uint8 array ``(n, image_size, image_size, channels)`` and int32 class labels (or None)."""
    root = root.expanduser()
    if not root.exists():
        raise DataError(f"the image folder {root} does not exist; set data.path (or --data-path) "
                        "to a folder of image files")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; data.path must be a folder of image files")
    paths = list_images(root)
    if not paths:
        raise DataError(f"{root} holds no image files (searched recursively for "
                        f"{', '.join(IMAGE_EXTENSIONS)}); put images there or fix data.path")
    # Classes come from the whole folder, so that a label means the same class with any limit.
    class_of = {p: p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None
                for p in paths}
    classes = sorted({c for c in class_of.values() if c is not None})
    if limit is not None:
        paths = paths[:limit]
    if with_labels:
        if not classes:
            raise DataError(f"labels were asked for (conditional model) but {root} has no class "
                            "subfolders; put each class's images in a subfolder named after the "
                            "class (folder/cat/*.png, folder/dog/*.png), or use an unconditional model")
        loose = [p for p in paths if class_of[p] is None]
        if loose:
            raise DataError(f"{len(loose)} images lie directly in {root}, outside any class subfolder "
                            f"({few_paths(loose, root)}); move them into a class subfolder or remove them")

    decode = channels is not None
    report = FolderReport(path=root, files=len(paths), classes=classes, image_size=image_size)
    # Filled in place as the decoded images arrive (no second copy from np.stack).
    images = np.empty((len(paths), image_size, image_size, channels) if decode else (0,), np.uint8)
    labels = np.empty(len(paths), np.int32)
    class_index = {name: i for i, name in enumerate(classes)}
    by_hash: dict[str, list[Path]] = {}

    def read(path: Path):
        return _read_image(path, image_size, crop, channels if decode else None)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for path, result in zip(paths, pool.map(read, paths)):
            if isinstance(result, Exception):
                report.unreadable.append(path)
                logger.debug("cannot read %s: %s", path, result)
                continue
            digest, mode, size, small, array = result
            if decode:
                images[report.readable] = array
                if with_labels:
                    labels[report.readable] = class_index[class_of[path]]
            report.readable += 1
            report.modes[mode] += 1
            report.sizes[size] += 1
            report.too_small += small
            by_hash.setdefault(digest, []).append(path)
    report.duplicates = [group for group in by_hash.values() if len(group) > 1]
    if not decode:
        return report, None, None
    n = report.readable
    return report, images[:n], (labels[:n] if with_labels else None)


def _read_image(path: Path, image_size: Optional[int], crop: Optional[int], channels: Optional[int]):
    """(sha1, mode, (w, h), too_small, uint8 array or None), or the exception if unreadable."""
    from PIL import Image, ImageOps

    try:
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as img:
            img.seek(0)  # first frame of an animation
            img.load()  # decode now: truncated/corrupt files fail here
            mode = img.mode
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to drop the image
                pass
            side = min(img.size + ((crop,) if crop else ()))
            too_small = image_size is not None and side < image_size
            array = _pil_to_array(img, image_size, channels, crop) if channels else None
            return hashlib.sha1(raw).hexdigest(), mode, img.size, int(too_small), array
    except Exception as err:  # noqa: BLE001 - Pillow raises many types for bad files
        return err


def _pil_to_array(img, size: int, channels: int, crop: Optional[int]) -> np.ndarray:
    """Any PIL image -> uint8 (size, size, channels): composite on white, convert, center
    square crop (``crop`` or the short side), Lanczos resize."""
    from PIL import Image

    img = pil_convert(img, channels)
    width, height = img.size
    side = min(width, height, crop or max(width, height))
    left, top = (width - side) // 2, (height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    array = np.asarray(img, dtype=np.uint8)
    return array[..., None] if channels == 1 else array


def pil_convert(img, channels: int):
    """Any PIL image (16-bit, palette, with alpha, CMYK...) -> ``RGB`` (channels 3) or ``L``
    (channels 1); transparent pixels are composited on white."""
    from PIL import Image

    img = _to_8bit(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB" if channels == 3 else "L")


def _to_8bit(img):
    """16-bit and float images -> ``L`` by scaling (PIL's own convert would clip them)."""
    from PIL import Image

    if img.mode not in ("I", "F") and not img.mode.startswith("I;16"):
        return img
    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F" and values.max(initial=0) <= 1.0:
        values = values * 255.0
    elif values.max(initial=0) > 255:
        values = values / 257.0
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8))
