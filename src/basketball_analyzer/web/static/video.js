// The video page: the video playing with every stored box drawn on a canvas kept in step frame by frame.
import { api, el, showError, trackColour } from "/static/common.js";

const CHUNK = 300;            // frames per detections request
const LOOKBACK = 30;          // a sampled run stores every N-th frame: show the last stored frame's boxes
const videoId = Number(location.pathname.split("/").pop());
const video = document.getElementById("video");
const canvas = document.getElementById("overlay");
const ctx = canvas.getContext("2d");
const seek = document.getElementById("seek");
const frameInput = document.getElementById("frame");
const status = document.getElementById("status");

let meta = null;              // the video's summary (fps, frame_count, size)
let teams = new Map();        // track id -> {team, color}
let stats = new Map();        // track id -> stats row
let court = null;             // calibration, when present
let selected = null;          // followed track id
let drawn = -1;
const chunks = new Map();     // chunk index -> Promise<Map<frame, boxes[]>>

function frameOf(seconds) { return Math.max(0, Math.min(meta.frame_count - 1, Math.floor(seconds * meta.fps + 0.01))); }

function chunk(index) {
  if (!chunks.has(index)) {
    const start = index * CHUNK, end = Math.min(meta.frame_count, start + CHUNK);
    chunks.set(index, api(`/api/videos/${videoId}/detections?start=${start}&end=${end}`).then((d) => {
      const byFrame = new Map();
      for (let i = 0; i < d.frame.length; i++) {
        const box = { id: d.id[i], x: d.x[i], y: d.y[i], w: d.w[i], h: d.h[i], conf: d.confidence[i], label: d.labels[d.label[i]] };
        if (!byFrame.has(d.frame[i])) byFrame.set(d.frame[i], []);
        byFrame.get(d.frame[i]).push(box);
      }
      return byFrame;
    }));
  }
  return chunks.get(index);
}

async function boxesAt(frame) {
  const index = Math.floor(frame / CHUNK);
  chunk(index + 1 < Math.ceil(meta.frame_count / CHUNK) ? index + 1 : index);  // read ahead
  const byFrame = await chunk(index);
  for (let f = frame; f >= Math.max(index * CHUNK, frame - LOOKBACK); f--) {
    if (byFrame.has(f)) return byFrame.get(f);
  }
  return [];
}

function colourOf(box) {
  if (box.label === "ball") return "#ff8c00";
  const t = teams.get(box.id);
  if (t && t.team === "other") return "#111111";
  if (t && t.color && t.team) return t.color;
  return trackColour(box.id);
}

// Dark text on light labels, light text on dark ones (a navy or black jersey's label).
function textOn(colour) {
  if (!colour.startsWith("#") || colour.length !== 7) return "#000";
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#000" : "#fff";
}

function fitCanvas() {
  canvas.width = video.clientWidth;
  canvas.height = video.clientHeight;
}

async function draw(frame) {
  const boxes = await boxesAt(frame);
  if (frameOf(video.currentTime) !== frame && !video.paused) return;  // a newer frame is on screen
  const sx = canvas.width / meta.width, sy = canvas.height / meta.height;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 3;
  ctx.font = "13px system-ui, sans-serif";
  for (const b of boxes) {
    const colour = colourOf(b);
    ctx.globalAlpha = selected === null || selected === b.id ? 1 : 0.35;
    ctx.strokeStyle = colour;
    ctx.strokeRect(b.x * sx, b.y * sy, b.w * sx, b.h * sy);
    const team = teams.get(b.id)?.team;
    const text = `#${b.id}${team ? " " + team : ""}`;
    ctx.fillStyle = colour;
    ctx.fillRect(b.x * sx, b.y * sy - 17, ctx.measureText(text).width + 8, 17);
    ctx.fillStyle = textOn(colour);
    ctx.fillText(text, b.x * sx + 4, b.y * sy - 4);
  }
  ctx.globalAlpha = 1;
  drawn = frame;
  document.body.dataset.frame = String(frame);
  document.body.dataset.boxes = String(boxes.length);
  seek.value = frame;
  if (document.activeElement !== frameInput) frameInput.value = frame;
  status.textContent = `${boxes.length} boxes · ${(frame / meta.fps).toFixed(2)} s`;
  drawMinimap(boxes);
}

function applyH(m, x, y) {
  const w = m[2][0] * x + m[2][1] * y + m[2][2];
  return [(m[0][0] * x + m[0][1] * y + m[0][2]) / w, (m[1][0] * x + m[1][1] * y + m[1][2]) / w];
}

function courtScale(c) { const m = 10; return [m, Math.min((c.width - 2 * m) / court.length, (c.height - 2 * m) / court.width)]; }

function drawCourt(c, g) {
  const [m, s] = courtScale(c);
  g.fillStyle = "#d7aa78"; g.fillRect(0, 0, c.width, c.height);
  g.strokeStyle = "#fff"; g.lineWidth = 2;
  g.strokeRect(m, m, court.length * s, court.width * s);
  g.beginPath(); g.moveTo(m + court.length * s / 2, m); g.lineTo(m + court.length * s / 2, m + court.width * s); g.stroke();
}

function drawMinimap(boxes) {
  if (!court) return;
  const c = document.getElementById("minimap"), g = c.getContext("2d");
  const [m, s] = courtScale(c);
  drawCourt(c, g);
  for (const b of boxes) {
    const [x, y] = applyH(court.matrix, b.x + b.w / 2, b.y + b.h);
    if (!isFinite(x) || !isFinite(y)) continue;
    g.fillStyle = colourOf(b);
    g.beginPath(); g.arc(m + x * s, m + y * s, selected === b.id ? 7 : 5, 0, 2 * Math.PI); g.fill();
    g.strokeStyle = "#222"; g.lineWidth = 1; g.stroke();
  }
}

function goTo(frame) {
  frame = Math.max(0, Math.min(meta.frame_count - 1, frame));
  video.pause();
  video.currentTime = (frame + 0.25) / meta.fps;
}

function onVideoFrame(_now, metadata) {
  draw(frameOf(metadata.mediaTime));
  video.requestVideoFrameCallback(onVideoFrame);
}

function showSelected() {
  const box = document.getElementById("selected");
  if (selected === null) { box.replaceChildren("Click a player to follow one track."); return; }
  const s = stats.get(selected), t = teams.get(selected);
  const rows = [["track", `#${selected}`], ["team", t?.team || "—"]];
  if (s) rows.push(["on screen", `${s.seconds.toFixed(1)} s`], ["distance", `${s.distance.toFixed(1)} ${statsUnit}`],
    ["avg speed", `${s.avg_speed.toFixed(2)} ${statsUnit}/s`], ["top speed", `${s.top_speed.toFixed(2)} ${statsUnit}/s`]);
  box.replaceChildren(el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
}

let statsUnit = "px";

canvas.addEventListener("click", async (event) => {
  const r = canvas.getBoundingClientRect();
  const x = (event.clientX - r.left) * meta.width / canvas.width, y = (event.clientY - r.top) * meta.height / canvas.height;
  const hit = (await boxesAt(drawn)).filter((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h);
  selected = hit.length ? hit.sort((a, b) => a.w * a.h - b.w * b.h)[0].id : null;
  showSelected();
  draw(drawn);
});

document.getElementById("play").addEventListener("click", () => (video.paused ? video.play() : video.pause()));
document.getElementById("back").addEventListener("click", () => goTo(drawn - 1));
document.getElementById("fwd").addEventListener("click", () => goTo(drawn + 1));
seek.addEventListener("input", () => goTo(Number(seek.value)));
frameInput.addEventListener("change", () => goTo(Number(frameInput.value)));
document.addEventListener("keydown", (e) => {
  if (e.target === frameInput) return;
  if (e.key === "ArrowLeft") goTo(drawn - 1);
  if (e.key === "ArrowRight") goTo(drawn + 1);
  if (e.key === " ") { e.preventDefault(); video.paused ? video.play() : video.pause(); }
});
video.addEventListener("play", () => (document.getElementById("play").textContent = "Pause"));
video.addEventListener("pause", () => (document.getElementById("play").textContent = "Play"));
video.addEventListener("seeked", () => draw(frameOf(video.currentTime)));
window.addEventListener("resize", () => { fitCanvas(); draw(drawn); });

function showTracks(trackRows) {
  for (const t of trackRows) teams.set(t.tracking_id, t);
  document.body.dataset.tracks = String(trackRows.length);
  if (!trackRows.length) return;
  document.getElementById("tracks").replaceChildren(el("table", {}, ...trackRows.map((t) => el("tr", {},
    el("td", {}, el("span", { class: "swatch", style: `background:${t.team === "other" ? "#111" : (t.color || trackColour(t.tracking_id))}` }), `#${t.tracking_id}`),
    el("td", {}, t.label), el("td", {}, t.team || "—"), el("td", { class: "num" }, `${t.frames_seen} frames`)))));
  if (drawn >= 0) draw(drawn);
}

function showCourt(cal) {
  court = cal;
  document.getElementById("court-card").hidden = false;
  document.getElementById("heatmap").src = `/api/videos/${videoId}/heatmap.png`;
  document.getElementById("heat-card").hidden = false;
  if (drawn >= 0) draw(drawn);
}

async function main() {
  try {
    meta = await api(`/api/videos/${videoId}?counts=false`);
  } catch (error) { showError(document.querySelector("main"), error); return; }
  document.getElementById("title").textContent = meta.file_name;
  document.title = `${meta.file_name} · basketball-analyzer`;
  seek.max = meta.frame_count - 1;
  frameInput.max = meta.frame_count - 1;
  // The video and its boxes come first; tracks, court and stats (slow on a long game) fill in as they arrive.
  api(`/api/videos/${videoId}/tracks`).then(showTracks).catch(() => {});
  api(`/api/videos/${videoId}/court`).then(showCourt).catch(() => {});
  api(`/api/videos/${videoId}/stats`).then((report) => {
    statsUnit = report.unit;
    for (const row of report.tracks) stats.set(row.tracking_id, row);
    showSelected();
  }).catch(() => {});
  video.src = `/api/videos/${videoId}/file`;
  video.addEventListener("loadeddata", () => { fitCanvas(); goTo(0); }, { once: true });
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(onVideoFrame);
  else video.addEventListener("timeupdate", () => draw(frameOf(video.currentTime)));
}

main();
