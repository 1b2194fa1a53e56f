"""The demo's cameras: how a site photographs a billet face, with the effects synthesis
does not model (lens and motion blur, light fall-off, vignetting, sensor noise, JPEG)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from billet_studio.demo.sites import SiteLook


@dataclass(frozen=True, eq=False)
class CameraShot:
    """Everything random about one photograph, drawn once so it can be developed twice
    (with and without stamps) identically."""

    size: int
    homography: np.ndarray  # face pixels -> image pixels
    light_azimuth_deg: float
    light_elevation_deg: float
    gradient_angle: float
    blur_sigma: float
    motion_px: float
    motion_angle: float
    jpeg_quality: int
    noise_seed: int
    site: SiteLook


def draw_shot(site: SiteLook, face_px: int, size: int, rng: np.random.Generator) -> CameraShot:
    """Frame the face in a ``size`` x ``size`` photograph the way ``site`` does."""
    side = size * rng.uniform(*site.face_fraction)
    centre = size / 2 + rng.uniform(-0.5, 0.5, 2) * (size - side) * 0.8
    angle = math.radians(rng.uniform(-site.face_rotation_deg, site.face_rotation_deg))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    unit = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    corners = centre + (unit * side) @ rotation.T
    corners += rng.uniform(-1, 1, (4, 2)) * site.perspective * side
    source = np.array([[0, 0], [face_px, 0], [face_px, face_px], [0, face_px]], np.float32)
    homography = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    return CameraShot(
        size=size,
        homography=homography,
        light_azimuth_deg=rng.uniform(*site.light_azimuth_deg),
        light_elevation_deg=rng.uniform(*site.light_elevation_deg),
        gradient_angle=rng.uniform(0, 2 * math.pi),
        blur_sigma=rng.uniform(*site.blur_sigma),
        motion_px=rng.uniform(*site.motion_blur_px),
        motion_angle=rng.uniform(0, math.pi),
        jpeg_quality=int(rng.integers(site.jpeg_quality[0], site.jpeg_quality[1] + 1)),
        noise_seed=int(rng.integers(0, 2**31)),
        site=site,
    )


def develop(face: np.ndarray, shot: CameraShot) -> np.ndarray:
    """The photograph of ``face`` (float RGB, 0-255) as the camera records it, uint8 RGB.

    Pixel centres follow the project's convention: the homography maps continuous face
    coordinates to continuous image coordinates, so polygons transformed by it land on the
    pixels that show them.
    """
    size, site = shot.size, shot.site
    # warpPerspective works on pixel centres at integer coordinates; shift by half a pixel
    # on both sides so that continuous coordinates match (see geometry.shapes).
    shift_in = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    shift_out = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    matrix = shift_out @ shot.homography @ shift_in
    warped = cv2.warpPerspective(face.astype(np.float32), matrix, (size, size),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=(-1.0, -1.0, -1.0))
    outside = warped[..., 0] < 0
    rng = np.random.default_rng(shot.noise_seed)
    background = np.array(site.background, np.float32)
    warped[outside] = background
    image = warped * _lighting(size, shot)[..., None]
    image *= np.array(site.tint, np.float32) * site.brightness
    image = (image - 110.0) * site.contrast + 110.0
    image = _blur(image, shot)
    image += rng.normal(0.0, site.noise_sigma, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _lighting(size: int, shot: CameraShot) -> np.ndarray:
    """A lamp to one side (a linear fall-off) times the lens's vignetting."""
    coords = (np.arange(size, dtype=np.float32) - size / 2) / (size / 2)
    gradient = (math.cos(shot.gradient_angle) * coords[None, :]
                + math.sin(shot.gradient_angle) * coords[:, None])
    radius2 = coords[None, :] ** 2 + coords[:, None] ** 2
    return (1.0 + shot.site.light_gradient * gradient * 0.5) * (
        1.0 - shot.site.vignetting * 0.5 * radius2)


def _blur(image: np.ndarray, shot: CameraShot) -> np.ndarray:
    if shot.blur_sigma > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), shot.blur_sigma)
    if shot.motion_px >= 1.0:
        length = math.ceil(shot.motion_px) | 1
        kernel = np.zeros((length, length), np.float32)
        half = length // 2
        dx, dy = math.cos(shot.motion_angle), math.sin(shot.motion_angle)
        for t in np.linspace(-half, half, 2 * length):
            kernel[round(half + t * dy), round(half + t * dx)] = 1.0
        image = cv2.filter2D(image, -1, kernel / kernel.sum())
    return image


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """The camera's JPEG file (deterministic bytes for the same pixels and quality)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()
