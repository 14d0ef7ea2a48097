"""The `Detections` value object: validation, filtering, layout conversions."""

import numpy as np
import pytest

from basketball_analyzer.detections import Detections


def test_for_frame_defaults_untracked_and_frame_number():
    d = Detections.for_frame(7, [[0, 0, 10, 20], [5, 5, 15, 25]], [0.9, 0.4])
    assert len(d) == 2
    assert d.tracker_id.tolist() == [-1, -1]
    assert d.frame_number.tolist() == [7, 7]
    assert d.track_ids() == set()


def test_shape_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"xyxy must have shape \(N, 4\)"):
        Detections(np.zeros((2, 3)), [1, 1], [1, 2], [0, 0])
    with pytest.raises(ValueError, match="confidence must have 2 rows"):
        Detections(np.zeros((2, 4)), [1], [1, 2], [0, 0])


def test_filter_merge_and_columns_round_trip():
    a = Detections.for_frame(0, [[10, 20, 30, 60]], [0.9], [3])
    b = Detections.for_frame(1, [[12, 22, 32, 62], [100, 100, 110, 140]], [0.8, 0.2], [3, 4])
    both = Detections.merge([a, b, Detections.empty()])
    assert len(both) == 3
    strong = both[both.confidence > 0.5]
    assert strong.tracker_id.tolist() == [3, 3]
    cols = both.columns()
    assert cols["bbox_width"].tolist() == [20, 20, 10]
    assert cols["bbox_height"].tolist() == [40, 40, 40]
    back = Detections.from_xywh(cols["frame_number"], cols["tracking_id"], cols["bbox_x"], cols["bbox_y"],
                                cols["bbox_width"], cols["bbox_height"], cols["confidence_score"])
    np.testing.assert_allclose(back.xyxy, both.xyxy)
    assert both.rows()[2] == (1, 4, 100.0, 100.0, 10.0, 40.0, pytest.approx(0.2))


def test_supervision_round_trip():
    d = Detections.for_frame(5, [[1, 2, 3, 4]], [0.5], [9])
    sv = d.to_supervision()
    again = Detections.from_supervision(sv, 5)
    np.testing.assert_allclose(again.xyxy, d.xyxy)
    assert again.tracker_id.tolist() == [9]
