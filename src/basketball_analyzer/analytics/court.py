"""Court geometry and the image-to-court homography that turns a box's foot point into a court position.

Court coordinates put the origin at the far-left corner as the main camera sees the floor: x runs along the
sideline (0 .. length), y from the far sideline (0) to the near one (width). Units are the court's own:
metres for FIBA (28 x 15), feet for the NBA (94 x 50). A calibration assumes a fixed camera: one
homography per video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import CalibrationError

MIN_POINTS = 4


@dataclass(frozen=True)
class CourtSpec:
    """A court's size, its unit, and the floor landmarks a user can name instead of typing coordinates."""

    name: str
    length: float
    width: float
    unit: str
    free_throw: float  # baseline to the free-throw line
    lane_width: float
    center_radius: float
    landmarks: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def metres_per_unit(self) -> float:
        """Conversion to metres (speeds are compared across courts in one unit)."""
        return 1.0 if self.unit == "m" else 0.3048

    def point(self, ref: str) -> tuple[float, float]:
        """A landmark by name, or plain `x,y` court coordinates; `CalibrationError` otherwise."""
        text = ref.strip().lower()
        if text in self.landmarks:
            return self.landmarks[text]
        parts = text.split(",")
        if len(parts) == 2:
            try:
                x, y = float(parts[0]), float(parts[1])
            except ValueError:
                pass
            else:
                if not (math.isfinite(x) and math.isfinite(y)):
                    raise CalibrationError(f"court point {ref[:40]!r} is not finite")
                if not (-0.5 * self.length <= x <= 1.5 * self.length and -0.5 * self.width <= y <= 1.5 * self.width):
                    raise CalibrationError(f"court point {ref[:40]!r} is far outside the {self.name} court "
                                           f"(0..{self.length:g} x 0..{self.width:g} {self.unit})")
                return x, y
        raise CalibrationError(f"unknown court landmark {ref[:40]!r} for a {self.name} court: use x,y in "
                               f"{self.unit} or one of {', '.join(sorted(self.landmarks))}")


def _landmarks(length: float, width: float, free_throw: float, lane: float) -> dict[str, tuple[float, float]]:
    mid_y, half_lane = width / 2, lane / 2
    out = {
        "far_left_corner": (0.0, 0.0), "far_right_corner": (length, 0.0),
        "near_left_corner": (0.0, width), "near_right_corner": (length, width),
        "midcourt_far": (length / 2, 0.0), "midcourt_near": (length / 2, width),
        "center": (length / 2, mid_y),
    }
    for side, x_line, x_base in (("left", free_throw, 0.0), ("right", length - free_throw, length)):
        out[f"{side}_ft_far"] = (x_line, mid_y - half_lane)
        out[f"{side}_ft_near"] = (x_line, mid_y + half_lane)
        out[f"{side}_ft_center"] = (x_line, mid_y)
        out[f"{side}_lane_far_baseline"] = (x_base, mid_y - half_lane)
        out[f"{side}_lane_near_baseline"] = (x_base, mid_y + half_lane)
    return out


def _spec(name: str, length: float, width: float, unit: str, free_throw: float, lane: float,
          radius: float) -> CourtSpec:
    return CourtSpec(name, length, width, unit, free_throw, lane, radius,
                     _landmarks(length, width, free_throw, lane))


COURTS: dict[str, CourtSpec] = {
    "fiba": _spec("fiba", 28.0, 15.0, "m", 5.8, 4.9, 1.8),
    "nba": _spec("nba", 94.0, 50.0, "ft", 19.0, 16.0, 6.0),
}


def court_spec(name: str) -> CourtSpec:
    """The court called `name` (fiba, nba); `CalibrationError` for any other."""
    spec = COURTS.get((name or "").strip().lower())
    if spec is None:
        raise CalibrationError(f"unknown court {name[:20]!r}: choose one of {', '.join(COURTS)}")
    return spec


@dataclass(frozen=True)
class Calibration:
    """A fitted image-to-court homography and how well it fits the points it was fitted on."""

    court: CourtSpec
    matrix: np.ndarray  # 3 x 3, image pixels -> court units
    rms_error: float  # court units
    max_error: float
    points: int

    def to_court(self, xy: np.ndarray) -> np.ndarray:
        """Map image points (N, 2) to court coordinates (N, 2)."""
        return apply_homography(self.matrix, xy)

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map court points (N, 2) back into the image."""
        return apply_homography(np.linalg.inv(self.matrix), xy)


def court_lines(court: CourtSpec, step: float = 0.25) -> list[np.ndarray]:
    """The court's painted lines as polylines in court units (sidelines and baselines, the half-way line, the
    centre circle, both lanes and free-throw circles): what a calibration is drawn back over the video with."""
    L, W, r = court.length, court.width, court.center_radius
    half = court.lane_width / 2

    def arc(cx, cy, radius, a0=0.0, a1=2 * math.pi):
        n = max(8, int(abs(a1 - a0) * radius / step))
        t = np.linspace(a0, a1, n)
        return np.c_[cx + radius * np.cos(t), cy + radius * np.sin(t)]

    lines = [np.array([[0, 0], [L, 0], [L, W], [0, W], [0, 0]], float), np.array([[L / 2, 0], [L / 2, W]], float),
             arc(L / 2, W / 2, r)]
    for base, ft in ((0.0, court.free_throw), (L, L - court.free_throw)):
        lines.append(np.array([[base, W / 2 - half], [ft, W / 2 - half], [ft, W / 2 + half], [base, W / 2 + half]]))
        lines.append(arc(ft, W / 2, r))
    return lines


def apply_homography(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Projective transform of (N, 2) points (float64); points at infinity come back as NaN."""
    pts = np.asarray(xy, np.float64).reshape(-1, 2)
    homog = np.c_[pts, np.ones(len(pts))] @ np.asarray(matrix, np.float64).T
    w = homog[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = homog[:, :2] / np.where(np.abs(w) < 1e-12, np.nan, w)
    return out


def _spread(points: np.ndarray) -> float:
    """How far the points are from all lying on one line: the smaller singular value over the larger."""
    centred = points - points.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return float(s[1] / s[0]) if s[0] > 0 else 0.0


def _has_collinear_triple(points: np.ndarray, tol: float) -> bool:
    n = len(points)
    scale = max(float(np.ptp(points, axis=0).max()), 1e-9)
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                a, b, c = points[i], points[j], points[k]
                area = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) / 2
                if area / (scale * scale) < tol:
                    return True
    return False


def fit_calibration(image_points, court_points, court: CourtSpec,
                    image_size: tuple[int, int] | None = None) -> Calibration:
    """Fit the homography from at least four image points to the court points they show.

    Refuses fewer than four pairs, points outside the image (`image_size` = width, height), repeated or
    collinear points (a homography needs four in general position) and fits that do not reproject.
    """
    import cv2

    img = np.asarray(image_points, np.float64).reshape(-1, 2)
    crt = np.asarray(court_points, np.float64).reshape(-1, 2)
    if len(img) != len(crt):
        raise CalibrationError(f"{len(img)} image points but {len(crt)} court points: give them in pairs")
    if len(img) < MIN_POINTS:
        raise CalibrationError(f"need at least {MIN_POINTS} point pairs to fit the court, got {len(img)}")
    if not (np.isfinite(img).all() and np.isfinite(crt).all()):
        raise CalibrationError("every point must be a finite number")
    if image_size is not None:
        w, h = image_size
        bad = np.flatnonzero((img[:, 0] < 0) | (img[:, 0] > w) | (img[:, 1] < 0) | (img[:, 1] > h))
        if len(bad):
            x, y = img[bad[0]]
            raise CalibrationError(f"image point {x:g},{y:g} is outside the {w} x {h} video")
    for name, pts in (("image", img), ("court", crt)):
        if len(np.unique(np.round(pts, 6), axis=0)) < len(pts):
            raise CalibrationError(f"two {name} points are the same: each pair must be a different spot")
        if _spread(pts) < 1e-3 or (len(pts) == MIN_POINTS and _has_collinear_triple(pts, 1e-4)):
            raise CalibrationError(f"the {name} points are (nearly) collinear: pick four or more spots, no three "
                                   "on one line (e.g. the four corners, or corners and free-throw line ends)")
    matrix, _ = cv2.findHomography(img, crt, 0)
    if matrix is None or not np.isfinite(matrix).all() or abs(np.linalg.det(matrix)) < 1e-15:
        raise CalibrationError("these points do not define a court plane: check that each image point "
                               "matches its court point")
    residual = np.linalg.norm(apply_homography(matrix, img) - crt, axis=1)
    if not np.isfinite(residual).all():
        raise CalibrationError("the fitted court plane sends a point to infinity: check the point pairs")
    return Calibration(court, matrix, float(np.sqrt(np.mean(residual ** 2))), float(residual.max()), len(img))
