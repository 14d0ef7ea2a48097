"""The image-to-court homography: recovered from known correspondences, bad points refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from basketball_analyzer.analytics.court import apply_homography, court_spec, fit_calibration
from basketball_analyzer.exceptions import CalibrationError

def _camera():
    """A broadcast-like view of a FIBA court: the far sideline shorter than the near one, image 1280 x 720."""
    import cv2

    corners = np.float32([[0, 0], [28, 0], [0, 15], [28, 15]])
    seen = np.float32([[300, 180], [980, 180], [40, 690], [1240, 690]])
    return cv2.getPerspectiveTransform(corners, seen)


def _image_of(court_xy):
    return apply_homography(_camera(), court_xy)


def test_known_correspondences_are_recovered_within_a_centimetre():
    fiba = court_spec("fiba")
    names = ["far_left_corner", "far_right_corner", "near_left_corner", "near_right_corner",
             "left_ft_far", "right_ft_near"]
    court = np.array([fiba.point(n) for n in names])
    image = _image_of(court)
    assert ((image >= 0) & (image <= [1280, 720])).all()
    cal = fit_calibration(image, court, fiba, image_size=(1280, 720))
    assert cal.rms_error < 0.01 and cal.points == 6
    # Spots it was not fitted on land where they should, within 1 cm.
    probe = np.array([[14.0, 7.5], [3.0, 11.0], [25.0, 2.0], [10.2, 13.9]])
    assert np.abs(cal.to_court(_image_of(probe)) - probe).max() < 0.01
    assert np.abs(cal.to_image(probe) - _image_of(probe)).max() < 0.05


def test_landmarks_and_plain_coordinates():
    nba = court_spec("NBA")
    assert nba.point("center") == (47.0, 25.0)
    assert nba.point("left_ft_near") == (19.0, 33.0)
    assert nba.point(" 10, 4.5 ") == (10.0, 4.5)
    assert court_spec("fiba").metres_per_unit == 1.0 and nba.metres_per_unit == pytest.approx(0.3048)


@pytest.mark.parametrize("image, court, message", [
    ([[0, 0], [10, 0], [10, 10]], [[0, 0], [1, 0], [1, 1]], "at least 4 point pairs to fit the court, got 3"),
    ([[0, 0], [100, 0], [200, 0], [300, 0]], [[0, 0], [1, 0], [1, 1], [0, 1]], "image points are (nearly) collinear"),
    ([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [1, 0], [2, 0], [0, 1]], "court points are (nearly) collinear"),
    ([[0, 0], [100, 0], [100, 100], [0, 2000]], [[0, 0], [1, 0], [1, 1], [0, 1]], "outside the 1280 x 720 video"),
    ([[0, 0], [100, 0], [100, 0], [0, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]], "two image points are the same"),
    ([[0, 0], [100, 0], [100, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]], "3 image points but 4 court points"),
])
def test_bad_points_are_one_clear_error(image, court, message):
    with pytest.raises(CalibrationError) as err:
        fit_calibration(image, court, court_spec("fiba"), image_size=(1280, 720))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("ref, message", [("free_throw_somewhere", "unknown court landmark"),
                                          ("1,2,3", "unknown court landmark"),
                                          ("500,3", "far outside the fiba court"),
                                          ("nan,3", "not finite")])
def test_unknown_landmarks_and_bad_coordinates(ref, message):
    with pytest.raises(CalibrationError, match=message):
        court_spec("fiba").point(ref)
    with pytest.raises(CalibrationError, match="unknown court"):
        court_spec("wnba-indoor")
