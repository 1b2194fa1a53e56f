"""Reading billet photographs safely: header checks before decoding, EXIF orientation
applied (as labelme does), RGB uint8 out."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from billet_studio.annotations.atomic import atomic_write_bytes
from billet_studio.annotations.errors import AnnotationError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Larger images are refused before decoding (a decompression bomb or a wrong file).
MAX_IMAGE_PIXELS = 100_000_000
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _open(path: Path, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise AnnotationError(path, f"is a decompression bomb ({error})") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise AnnotationError(path, f"is not an image that can be decoded ({error})") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise AnnotationError(
            path, f"claims {width}x{height} pixels, over the limit of {max_pixels:,} "
                  "(a decompression bomb or not a billet photograph)"
        )
    return image


def read_image_size(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """(height, width) as displayed (after EXIF rotation), from the header only."""
    with _open(path, max_pixels) as image:
        width, height = image.size
        orientation = 1
        # For PNG, getexif() decodes the whole image to look for an eXIf chunk after the
        # pixels; a header read only trusts one that comes before them (the usual place).
        if image.format != "PNG" or "exif" in image.info:
            try:
                orientation = image.getexif().get(0x0112, 1)
            except Exception:  # a broken EXIF block does not make the pixels unusable
                orientation = 1
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return height, width


def read_image(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an image to an (H, W, 3) RGB uint8 array; truncated files are an error."""
    with _open(path, max_pixels) as image:
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
        except (OSError, ValueError, SyntaxError) as error:
            raise AnnotationError(path, f"cannot be decoded ({error})") from None
    return np.asarray(rgb)


def write_png(path: Path, array: np.ndarray) -> None:
    """Save a grey (H, W) or RGB (H, W, 3) uint8 array as PNG, atomically."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise AnnotationError(path, "could not be encoded as PNG")
    atomic_write_bytes(path, encoded.tobytes())
