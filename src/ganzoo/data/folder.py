"""Folders of image files as a source: listing, decoding with Pillow, and the report of what is there.

* :func:`read_folder` decodes every image under a folder once (threads), squared and resized
  with Lanczos to uint8, with class labels from the first-level subfolders (alphabetical), and
  a :class:`FolderReport` (unreadable files, modes, sizes, duplicates, classes);
  :func:`scan_folder` returns the report alone.
* :func:`folder_examples`: the uint8 examples of ``load_dataset`` for ``data.source: folder``.
* :func:`read_image_file`: one user's image file as a uint8 array (the ``upscale`` and
  ``stylize`` commands, the SRGAN folder source, evaluation on a folder).

Any PIL image (16-bit, palette, alpha, CMYK, EXIF-rotated) becomes ``RGB`` or ``L`` the same
way everywhere (:func:`pil_convert`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ganzoo.config import Config
from ganzoo.data.errors import DataError, few_paths

__all__ = ["FolderReport", "IMAGE_EXTENSIONS", "check_readable", "folder_examples", "list_images", "pil_convert",
           "pil_to_array", "read_folder", "read_image_file", "scan_folder"]

logger = logging.getLogger(__name__)

#: File name endings (lower case) collected from a folder source.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


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


def scan_folder(path: Union[str, Path], image_size: Optional[int] = None,
                crop: Optional[int] = None) -> FolderReport:
    """Decode every image file under ``path`` once and report what is there.

    ``image_size`` (and ``crop``) only serve to count the images that would be upscaled.
    Raises :class:`DataError` if the path does not exist.
    """
    report, _, _ = read_folder(Path(path), image_size=image_size, crop=crop)
    return report


def check_readable(report: FolderReport) -> None:
    """Warn about the unreadable files of a folder read by :func:`read_folder`; a
    :class:`DataError` if none of its files could be read."""
    if report.unreadable:
        logger.warning("skipped %d unreadable image files in %s: %s", len(report.unreadable),
                       report.path, few_paths(report.unreadable, report.path))
    if report.readable == 0:
        raise DataError(f"none of the {report.files} image files in {report.path} could be read "
                        f"(e.g. {few_paths(report.unreadable, report.path)}); check that they are valid images")


_REPORTED: set = set()


def _first_time(key) -> bool:
    """True the first time ``key`` is seen in this process (for warnings worth saying once)."""
    if key in _REPORTED:
        return False
    _REPORTED.add(key)
    return True


def folder_examples(config: Config, with_labels: bool, limit: Optional[int]):
    """(dataset of uint8 images or (image, label) pairs, number of examples) of ``data.source: folder``;
    the ``data.pad`` border is added by the caller."""
    import tensorflow as tf

    data = config.data
    report, images, labels = read_folder(Path(data.path), image_size=data.image_size - 2 * data.pad,
                                         crop=data.crop, channels=data.channels,
                                         with_labels=with_labels, limit=limit)
    logger.info("folder source:\n%s", report.summary())
    check_readable(report)
    if report.too_small and _first_time(("too_small", str(report.path), data.image_size)):
        # Once per folder and size: a run reads its folder several times (training stream,
        # fixed-sample grid, nearest-image panel, each resumed segment).
        logger.warning("%d of %d images in %s are smaller than %dpx and were upscaled",
                       report.too_small, report.readable, report.path, data.image_size)
    if with_labels:
        wanted = config.model.get("num_classes")
        if wanted is not None and wanted != len(report.classes):
            raise DataError(f"{report.path} has {len(report.classes)} class subfolders "
                            f"({', '.join(report.classes)}) but model.num_classes is {wanted}; set "
                            f"model.num_classes: {len(report.classes)} or fix the folders")
        elements = (images, labels)
    else:
        elements = images
    return tf.data.Dataset.from_tensor_slices(elements), len(images)


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
            array = pil_to_array(img, image_size, channels, crop) if channels else None
            return hashlib.sha1(raw).hexdigest(), mode, img.size, int(too_small), array
    except Exception as err:  # noqa: BLE001 - Pillow raises many types for bad files
        return err


def pil_to_array(img, size: int, channels: int, crop: Optional[int]) -> np.ndarray:
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


def read_image_file(path, channels: int = 3) -> np.ndarray:
    """A user's image file -> uint8 array (h, w, channels): EXIF orientation applied,
    transparency composited on white, grayscale/palette/CMYK/16-bit converted. Raises
    :class:`DataError` naming the file if it is missing or cannot be decoded."""
    from PIL import Image, ImageOps

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"the image file {path} does not exist")
    try:
        with Image.open(path) as img:
            img.seek(0)
            img.load()
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to refuse the image
                pass
            array = np.asarray(pil_convert(img, channels), dtype=np.uint8)
    except Exception as err:  # noqa: BLE001 - Pillow raises many types for bad files
        raise DataError(f"cannot read the image {path}: {type(err).__name__}: {err}; is it a valid "
                        "PNG/JPEG/WebP/TIFF file?") from None
    return array[..., None] if channels == 1 else array
