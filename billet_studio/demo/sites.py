"""The two simulated production sites: camera, framing, light and colour of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiteLook:
    """How a site's camera sees a billet face (ranges are drawn per photograph)."""

    name: str
    #: RGB gain of the light and sensor (white balance).
    tint: tuple[float, float, float]
    brightness: float
    contrast: float
    #: Share of the frame the face's side takes, and how much it is turned and tilted.
    face_fraction: tuple[float, float]
    face_rotation_deg: float
    perspective: float
    #: Light: azimuth range (degrees, 90 = from the top) and elevation of the key light.
    light_azimuth_deg: tuple[float, float]
    light_elevation_deg: tuple[float, float]
    #: Brightness falls off across the face (a lamp to one side) and towards the corners.
    light_gradient: float
    vignetting: float
    noise_sigma: float
    blur_sigma: tuple[float, float]
    motion_blur_px: tuple[float, float]
    jpeg_quality: tuple[int, int]
    #: The background around the face (dark, hot steel or a conveyor).
    background: tuple[float, float, float]


#: Site A: warm, dim light, the face filling most of the frame, softer optics.
SITE_A = SiteLook(
    name="A",
    tint=(1.12, 0.98, 0.80),
    brightness=0.78,
    contrast=0.85,
    face_fraction=(0.80, 0.92),
    face_rotation_deg=4.0,
    perspective=0.025,
    light_azimuth_deg=(100.0, 160.0),
    light_elevation_deg=(30.0, 45.0),
    light_gradient=0.25,
    vignetting=0.35,
    noise_sigma=6.0,
    blur_sigma=(0.6, 1.3),
    motion_blur_px=(0.0, 3.0),
    jpeg_quality=(70, 88),
    background=(34.0, 26.0, 20.0),
)

#: Site B: cooler light with more contrast, the face smaller and more tilted in the frame.
SITE_B = SiteLook(
    name="B",
    tint=(0.92, 1.0, 1.10),
    brightness=1.0,
    contrast=1.25,
    face_fraction=(0.68, 0.84),
    face_rotation_deg=7.0,
    perspective=0.05,
    light_azimuth_deg=(20.0, 80.0),
    light_elevation_deg=(25.0, 40.0),
    light_gradient=0.15,
    vignetting=0.2,
    noise_sigma=4.0,
    blur_sigma=(0.3, 0.9),
    motion_blur_px=(0.0, 1.5),
    jpeg_quality=(80, 94),
    background=(22.0, 24.0, 28.0),
)

SITES = {"A": SITE_A, "B": SITE_B}
