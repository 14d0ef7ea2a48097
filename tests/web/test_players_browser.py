"""Players in the viewer, in a real Chromium over uvicorn: boxes labelled with the jersey number and name, the players
list in place of the tracks table, a selected player followed across his tracks, merging and naming from the page
with the server's refusals shown as text."""

from __future__ import annotations

import pytest
from support.browser import CHROMIUM, SKIP_REASON, chromium_page, serving, wait_until
from support.players_game import HANDOVER, HIDDEN, NAMES, seed_players, store_players_game

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)

# What the overlay wrote, frame by frame: each label and the strength (globalAlpha) its box was drawn at. A clear of
# the overlay starts a frame. Injected through DevTools, so the page's CSP does not apply to it.
LABELS = """
window.__labels = [];
const fill = CanvasRenderingContext2D.prototype.fillText, clear = CanvasRenderingContext2D.prototype.clearRect;
CanvasRenderingContext2D.prototype.clearRect = function (...a) {
  if (this.canvas.id === "overlay") window.__labels = [];
  return clear.apply(this, a);
};
CanvasRenderingContext2D.prototype.fillText = function (text, ...a) {
  if (this.canvas.id === "overlay") window.__labels.push([String(text), this.globalAlpha]);
  return fill.call(this, text, ...a);
};
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, web_clip):
    """(base URL, page, database URL, video id): one server and one browser for the module."""
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import engine
    from basketball_analyzer.web.app import create_app

    folder = tmp_path_factory.mktemp("players-browser")
    url = f"sqlite:///{folder / 'bball.db'}"
    video_id = store_players_game(url, web_clip)
    with serving(create_app(load_settings(database_url=url, web_upload_dir=str(folder / "up")))) as base, \
            chromium_page() as page:
        page.add_init_script(LABELS)
        yield base, page, url, video_id
    engine.dispose(url)


@pytest.fixture
def viewer(site, web_clip):
    """(page, track -> player): the players seeded afresh and the viewer open on frame 0 with its list drawn."""
    base, page, url, video_id = site
    owner = seed_players(url, video_id, web_clip[1])
    page.goto(f"{base}/videos/{video_id}")
    page.wait_for_selector(f"body[data-frame='0'][data-players='{len(set(owner.values()))}']", timeout=20_000)
    page.wait_for_selector("#players tr[data-player]")
    page.wait_for_selector("#tracks tr[data-track]", state="attached")  # the teams, for the tracks' labels
    return page, owner


def labels(page) -> dict[str, float]:
    """Label -> the strength its box was drawn at, on the frame shown."""
    return {text: alpha for text, alpha in page.evaluate("window.__labels")}


def go(page, frame: int) -> None:
    page.fill("#frame", str(frame))
    page.press("#frame", "Enter")
    page.wait_for_selector(f"body[data-frame='{frame}']", timeout=10_000)


def test_boxes_carry_number_and_name_and_the_list_shows_players(viewer):
    page, owner = viewer
    shown = labels(page)
    assert "#23 Ada Lovelace" in shown and "#8" in shown and f"#7 {NAMES[2]}" in shown
    go(page, 80)
    shown = labels(page)
    assert "#23 Ada Lovelace" in shown  # now on track 20
    assert "track 21 B" in shown  # a player without number: his track, written so it is not read as a jersey
    rows = page.locator("#players tr[data-player]")
    assert rows.count() == len(set(owner.values()))
    first = page.inner_text(f"#players tr[data-player='{owner[0]}']")
    assert "#23" in first and "Ada Lovelace" in first and "\t2\t" in first  # two tracks
    # A name from the database is text: no element made of it, no script run.
    assert NAMES[2] in page.inner_text(f"#players tr[data-player='{owner[2]}']")
    assert page.locator("img[src='x']").count() == 0 and page.title() != "pwned"
    assert page.is_hidden("#tracks") and page.inner_text("#list-title") == f"Players ({rows.count()})"
    # His distance is the player's, over both tracks, once the stats arrive.
    distance = f"#players tr[data-player='{owner[0]}'] td:last-child"
    wait_until(page, f"document.querySelector(\"{distance}\").textContent !== '…'")
    stats = page.evaluate("fetch(location.pathname.replace('/videos/', '/api/videos/') + '/stats').then(r => r.json())")
    mine = next(p for p in stats["players"] if p["player"] == owner[0])
    assert mine["tracks"] == [0, HANDOVER[1]] and page.inner_text(distance) == f"{mine['distance']:.1f}"
    page.click("#list-toggle")
    assert page.is_visible("#tracks tr[data-track='21']") and page.is_hidden("#players")


def test_a_selected_player_stays_selected_across_his_tracks(viewer, web_clip):
    page, owner = viewer
    page.click(f"#players tr[data-player='{owner[0]}'] td.pname")
    page.wait_for_selector(f"body[data-selected-player='{owner[0]}']")
    shown = labels(page)
    assert shown["#23 Ada Lovelace"] == 1 and shown["#33"] < 0.5  # bright, the others dimmed
    assert "track 0 (frames" in page.inner_text("#selected") and f"track {HANDOVER[1]} (frames" in page.inner_text("#selected")
    wait_until(page, "document.getElementById('heat-player')?.naturalWidth > 0")
    assert f"/players/{owner[0]}/heatmap.png" in page.get_attribute("#heat-player", "src")
    go(page, 90)  # track 0 ended at 59: the same player, on track 20, still selected and bright
    assert page.get_attribute("body", "data-selected-player") == str(owner[0])
    shown = labels(page)
    assert shown["#23 Ada Lovelace"] == 1 and shown["#33"] < 0.5
    assert "not in this frame" not in page.inner_text("#status")
    # A click on his box on the video selects the player, not the track.
    page.click("#clear-selection")
    truth = web_clip[1]
    x1, y1, x2, y2 = truth.boxes.xyxy[(truth.boxes.tracker_id == 0) & (truth.boxes.frame_number == 90)][0]
    stage = page.locator("#overlay").bounding_box()
    scale = stage["width"] / 640
    page.mouse.click(stage["x"] + float(x1 + x2) / 2 * scale, stage["y"] + float(y1 + y2) / 2 * scale)
    page.wait_for_selector(f"body[data-selected-player='{owner[0]}']")
    assert "selected" in page.get_attribute(f"#players tr[data-player='{owner[0]}']", "class")
    # A player whose track is not on screen: the viewer goes to where his next track starts.
    go(page, 55)
    page.click(f"#players tr[data-player='{owner[HIDDEN[1]]}'] td.pname")
    page.wait_for_selector(f"body[data-frame='{HIDDEN[3]}']", timeout=10_000)
    assert labels(page)[f"track {HIDDEN[1]} B"] == 1


def test_merging_from_the_page_shows_refusals_as_text_and_joins_players(viewer, site):
    from basketball_analyzer.db import transaction
    from basketball_analyzer.players.store import player_of

    page, owner = viewer
    _, _, url, video_id = site
    count = len(set(owner.values()))
    assert page.is_disabled("#merge")
    page.check(f".merge-pick[data-player='{owner[0]}']")
    page.check(f".merge-pick[data-player='{owner[2]}']")  # the same team, on court at the same time
    page.click("#merge")
    page.wait_for_selector("#players-status.error")
    assert "overlap in time" in page.inner_text("#players-status")
    assert page.locator("#players tr[data-player]").count() == count
    page.uncheck(f".merge-pick[data-player='{owner[0]}']")
    page.uncheck(f".merge-pick[data-player='{owner[2]}']")
    page.check(f".merge-pick[data-player='{owner[HIDDEN[0]]}']")
    page.check(f".merge-pick[data-player='{owner[HIDDEN[1]]}']")
    assert page.inner_text("#merge") == "Merge 2 players into #8"
    page.click("#merge")
    page.wait_for_selector(f"body[data-players='{count - 1}']")
    assert page.inner_text("#players-status") == f"Player {owner[1]} now holds tracks 1, 21."
    with transaction(url, readonly=True) as s:
        assert player_of(s, video_id)[HIDDEN[1]] == owner[HIDDEN[0]]
    go(page, 80)
    assert "#8" in labels(page) and "track 21 B" not in labels(page)
    # Between his tracks (1 ends at 49, 21 starts at 70) the viewer goes to his next one, not back to his first.
    go(page, 55)
    page.click(f"#players tr[data-player='{owner[1]}'] td.pname")
    page.wait_for_selector(f"body[data-frame='{HIDDEN[3]}']", timeout=10_000)
    assert labels(page)["#8"] == 1


def test_a_player_is_numbered_and_named_from_his_card(viewer):
    page, owner = viewer
    page.click(f"#players tr[data-player='{owner[HIDDEN[1]]}'] td.pname")
    page.wait_for_selector(f"body[data-frame='{HIDDEN[3]}']", timeout=10_000)
    page.fill("#edit-number", "8")  # track 1's player wears it
    page.click("#player-edit button[type=submit]")
    page.wait_for_selector("#edit-status.error")
    assert f"player {owner[HIDDEN[0]]} of team B wears 8 already" in page.inner_text("#edit-status")
    page.fill("#edit-number", "12")
    page.fill("#edit-name", "<b>Grace</b>")
    page.click("#player-edit button[type=submit]")
    wait_until(page, "document.querySelector('#players tr.selected .jersey')?.textContent === '#12'")
    assert labels(page)["#12 <b>Grace</b>"] == 1
    assert page.locator("#players b").count() == 0


def test_without_players_the_tracks_table_stays_and_says_how_to_make_them(site, web_clip):
    from sqlalchemy import delete

    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.players import Player, TrackPlayer

    base, page, url, video_id = site
    with transaction(url) as s:
        s.execute(delete(TrackPlayer).where(TrackPlayer.video_id == video_id))
        s.execute(delete(Player).where(Player.video_id == video_id))
    page.goto(f"{base}/videos/{video_id}")
    page.wait_for_selector("body[data-frame='0'][data-players='0']", timeout=20_000)
    page.wait_for_selector("#tracks tr[data-track='0']")
    assert page.is_hidden("#players") and page.is_hidden("#list-toggle")
    assert f"bball players {video_id}" in page.inner_text("#players-hint")
    assert "#0 A" in labels(page)  # tracks labelled as before players
