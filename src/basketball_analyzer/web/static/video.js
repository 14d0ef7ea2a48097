// The video page: the video playing with every stored box drawn on a canvas, frame by frame, at any speed.
import { Calibrator } from "/static/calibrate.js";
import { api, showError, trackColour } from "/static/common.js";
import { FrameClock, formatClock, timingOf } from "/static/frames.js";
import { BoxStore, drawBoxes } from "/static/overlay.js";
import { Panels } from "/static/panels.js";
import { playerTag } from "/static/players.js";

const SPEEDS = [0.25, 0.5, 0.75, 1, 1.5, 2];
const SEEK_PATIENCE = 1000;   // ms a seek may take before it is started again
const LOG_LIMIT = 50_000;     // frame-callback records kept (28 minutes at 30 fps)
const videoId = Number(location.pathname.split("/").pop());
const video = document.getElementById("video");
const canvas = document.getElementById("overlay");
const ctx = canvas.getContext("2d");
const seek = document.getElementById("seek");
const frameInput = document.getElementById("frame");
const speed = document.getElementById("speed");
const clockText = document.getElementById("clock");
const status = document.getElementById("status");
const hideOffCourt = document.getElementById("hide-off-court");

let meta = null;              // the video's summary (frame_count, size, timing)
let clock = null;             // FrameClock: frame N <-> presentation time
let store = null;             // BoxStore: the boxes, chunk by chunk
let shown = -1;               // the frame on screen, as the frame callback (or a paused seek) says
let target = null;            // the frame the seeks in flight go to, so fast steps add up
let seekWatch = null;         // the timer that starts a seek again if it never lands
let calibrator = null;        // Calibrator: court points picked on the frame shown
const panels = new Panels(videoId, { colourOf, onSelect: follow, onChange: () => render(shown) });

// What the overlay did per presented frame, for tests and benchmarks: callbacks, frames drawn in the callback
// itself (their boxes were loaded), and one [mediaTime, frame, drawn, presentedFrames] per callback.
const record = window.bballViewer = { callbacks: 0, drawn: 0, firstBoxesAt: null, log: [] };

function colourOf(box) {
  if (box.label === "ball") return "#ff8c00";
  const t = panels.teams.get(box.id);
  if (t && t.team === "other") return "#111111";
  if (t && t.color && t.team) return t.color;
  return trackColour(box.id);
}

// "#23 Ada Lovelace" for a player with a number (his name, if he has one, without); otherwise the track, written
// "track 17" once players exist so it cannot be read as a jersey number.
function labelOf(box) {
  const tag = playerTag(panels.players.of(box.id));
  if (tag) return tag;
  const team = panels.teams.get(box.id)?.team;
  return `${panels.players.any ? "track " : "#"}${box.id}${team ? " " + team : ""}`;
}

function fitCanvas() {
  canvas.width = video.clientWidth;
  canvas.height = video.clientHeight;
}

// Draw `frame`'s boxes now if its chunk is loaded (true), else once it arrives, if still on screen (false).
function render(frame) {
  if (frame < 0) return false;
  const boxes = store.at(frame), loading = store.prefetch(frame);
  if (boxes === null) {
    loading.then(() => { if (shown === frame) render(frame); }, (error) => (status.textContent = error.message));
    return false;
  }
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  drawBoxes(ctx, boxes, canvas.width / meta.width, canvas.height / meta.height,
    { colourOf, labelOf, selected: panels.highlighted(), hideOffCourt: hideOffCourt.checked });
  if (boxes.length && record.firstBoxesAt === null) record.firstBoxesAt = performance.now();
  panels.loadStats();
  document.body.dataset.frame = String(frame);
  document.body.dataset.boxes = String(boxes.length);
  seek.value = frame;
  if (document.activeElement !== frameInput) frameInput.value = frame;
  clockText.textContent = clock.clock(frame);
  const lit = panels.highlighted(), mine = lit === null ? null : boxes.some((b) => lit.has(b.id));
  const off = boxes.filter((b) => b.on === false).length;
  status.textContent = `${boxes.length} boxes` + (off ? ` · ${off} off the court` : "") +
    (mine === false ? ` · ${panels.selectionName()} not in this frame` : "");
  panels.frameDrawn(frame, boxes);
  calibrator?.frameDrawn(frame);
  return true;
}

function onVideoFrame(_now, metadata) {
  const frame = clock.frameAt(metadata.mediaTime);
  shown = frame;
  const drawn = render(frame);
  record.callbacks += 1;
  record.drawn += drawn ? 1 : 0;
  if (record.log.length < LOG_LIMIT) record.log.push([metadata.mediaTime, frame, drawn, metadata.presentedFrames]);
  video.requestVideoFrameCallback(onVideoFrame);
}

// One seek at a time: a step taken while a seek is in flight only moves the target, and the seek that lands
// goes on to it (a loaded Chromium left a seek hanging for good, `seeking` true at readyState 1, when five were
// started 5 ms apart). A seek still in flight after SEEK_PATIENCE ms is started again.
function goTo(frame) {
  frame = clock.clamp(frame);
  video.pause();
  target = frame;
  store.prefetch(frame).catch(() => {});  // the boxes travel while the video seeks
  if (!video.seeking) startSeek();
}

function startSeek() {
  video.currentTime = clock.seekTime(target);
  clearTimeout(seekWatch);
  seekWatch = setTimeout(() => { if (video.seeking && target !== null) startSeek(); }, SEEK_PATIENCE);
}

function step(by) { goTo((target ?? shown) + by); }

function setSpeed(value) {
  video.playbackRate = value;
  speed.value = String(value);
}

function nextSpeed(by) {
  const i = SPEEDS.indexOf(video.playbackRate);
  setSpeed(SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, (i < 0 ? SPEEDS.indexOf(1) : i) + by))]);
}

// A keyframe was saved: every box's court position may have changed, so the boxes are read again.
function courtChanged() {
  store = new BoxStore(videoId, meta.frame_count);
  panels.courtChanged();
  render(shown);
}

function togglePlay() { video.paused ? video.play() : video.pause(); }

// Selecting a track or a player from the list: show him, and when none of his tracks spans the frame shown, go to
// where his next track starts (his first, past his last).
function follow(target) {
  if (!target) { render(shown); return; }
  const ids = new Set(target.tracks ?? [target.tracking_id]);
  let spans = target.tracks ? target.tracks.map((id) => panels.teams.get(id)).filter(Boolean) : [target];
  if (!spans.length) spans = [target];
  const here = (store.at(shown) || []).some((b) => ids.has(b.id)) ||
    spans.some((s) => shown >= s.first_frame && shown <= s.last_frame);
  if (here) { render(shown); return; }
  const starts = spans.map((s) => s.first_frame).sort((a, b) => a - b);
  goTo(starts.find((f) => f > shown) ?? starts[0]);
}

canvas.addEventListener("click", (event) => {
  const r = canvas.getBoundingClientRect();
  const x = (event.clientX - r.left) * meta.width / canvas.width, y = (event.clientY - r.top) * meta.height / canvas.height;
  const hit = (store.at(shown) || []).filter((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h &&
    !(hideOffCourt.checked && b.on === false));
  panels.selectBox(hit.length ? hit.sort((a, b) => a.w * a.h - b.w * b.h)[0].id : null);
  render(shown);
});

document.getElementById("play").addEventListener("click", togglePlay);
document.getElementById("back").addEventListener("click", () => step(-1));
document.getElementById("fwd").addEventListener("click", () => step(1));
speed.addEventListener("change", () => setSpeed(Number(speed.value)));
hideOffCourt.addEventListener("change", () => render(shown));
seek.addEventListener("input", () => goTo(Number(seek.value)));
frameInput.addEventListener("change", () => goTo(Number(frameInput.value)));
document.addEventListener("keydown", (e) => {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) || e.ctrlKey || e.metaKey || e.altKey) return;
  const keys = { ArrowLeft: () => step(-1), ",": () => step(-1), ArrowRight: () => step(1), ".": () => step(1),
    "<": () => nextSpeed(-1), ">": () => nextSpeed(1), " ": togglePlay };
  if (!keys[e.key]) return;
  e.preventDefault();
  keys[e.key]();
});
video.addEventListener("play", () => (document.getElementById("play").textContent = "Pause"));
video.addEventListener("pause", () => (document.getElementById("play").textContent = "Play"));
// A paused seek may land on the frame already shown, and then no frame callback comes: number it from the time
// the seek set (the middle of a frame's interval, so unambiguous).
video.addEventListener("seeked", () => {
  if (video.seeking) return;  // an earlier seek's event, queued before the next one started
  clearTimeout(seekWatch);
  if (target !== null && video.paused && clock.frameShowing(video.currentTime) !== target) { startSeek(); return; }
  target = null;
  if (!video.paused) return;
  shown = clock.frameShowing(video.currentTime);
  render(shown);
});
window.addEventListener("resize", () => { fitCanvas(); if (shown >= 0) render(shown); });

async function main() {
  // The video, its summary and its first boxes all start loading at once.
  video.src = `/api/videos/${videoId}/file`;
  const playable = new Promise((ok) => video.addEventListener("loadeddata", ok, { once: true }));
  try {
    meta = await api(`/api/videos/${videoId}?counts=false`);
  } catch (error) { video.removeAttribute("src"); showError(document.querySelector("main"), error); return; }
  clock = new FrameClock(timingOf(meta), meta.frame_count);
  store = new BoxStore(videoId, meta.frame_count);
  store.prefetch(0).catch((error) => (status.textContent = error.message));
  document.getElementById("title").textContent = meta.file_name;
  document.title = `${meta.file_name} · basketball-analyzer`;
  seek.max = meta.frame_count - 1;
  frameInput.max = meta.frame_count - 1;
  document.getElementById("frames-total").textContent =
    `of ${meta.frame_count - 1} · ${formatClock(clock.timeOf(meta.frame_count - 1) - clock.start)}` +
    (clock.mode === "variable" ? " · variable frame rate" : "");
  panels.load(meta);
  calibrator = new Calibrator(videoId, { meta, frame: () => shown, goTo, onSaved: courtChanged });
  setTimeout(() => panels.loadStats(), 3000);  // a video that never draws still gets its stats
  await playable;
  fitCanvas();
  goTo(0);
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(onVideoFrame);
  else video.addEventListener("timeupdate", () => { shown = clock.frameShowing(video.currentTime); render(shown); });
}

main();
