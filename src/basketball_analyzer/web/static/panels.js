// The video page's side panels: the selected track, the court minimap, the tracks table and the heatmaps.
// Tracks, court and stats (slow on a long game) fill in as they arrive; the video and its boxes never wait.
import { api, el } from "/static/common.js";

const UNITS = { m: ["metres", "m"], ft: ["feet", "ft"], px: ["pixels of the picture", "px"] };

export class Panels {
  /** `colourOf(box)` colours a box; `onSelect(track row or null)` runs when the table selects a track. */
  constructor(videoId, { colourOf, onSelect }) {
    this.videoId = videoId;
    this.colourOf = colourOf;
    this.onSelect = onSelect;
    this.teams = new Map();     // track id -> tracks row {team, color, first_frame, ...}
    this.stats = new Map();     // track id -> stats row
    this.unit = null;           // the stats' unit: m, ft or px
    this.court = null;          // calibration, when present
    this.selected = null;       // followed track id
    this.trackRows = [];
  }

  load(meta) {
    this.meta = meta;
    api(`/api/videos/${this.videoId}/tracks`).then((rows) => this.showTracks(rows)).catch(() => {});
    api(`/api/videos/${this.videoId}/court`).then((cal) => this.showCourt(cal), () => this.showCourt(null));
  }

  /** The stats (seconds of work on a long game): asked once the first frame is drawn, so the server gives the
   *  video and its first boxes their time first. */
  loadStats() {
    if (this.statsAsked) return;
    this.statsAsked = true;
    api(`/api/videos/${this.videoId}/stats`).then((report) => {
      this.unit = report.unit;
      for (const row of report.tracks) this.stats.set(row.tracking_id, row);
      this.showUnits();
      this.showTracks(this.trackRows);
      this.showSelected();
    }).catch(() => { this.statsFailed = true; this.showTracks(this.trackRows); });
  }

  /** Select track `id` (null: none) from a click on the video. */
  select(id) {
    this.selected = id;
    document.body.dataset.selected = id === null ? "" : String(id);
    for (const row of document.querySelectorAll("#tracks tr[data-track]")) {
      row.classList.toggle("selected", Number(row.dataset.track) === id);
    }
    this.showSelected();
    this.showHeatmaps();
  }

  frameDrawn(_frame, boxes) { this.drawMinimap(boxes); }

  showTracks(rows) {
    this.trackRows = rows;
    for (const t of rows) this.teams.set(t.tracking_id, t);
    document.body.dataset.tracks = String(rows.length);
    if (!rows.length) return;
    const fps = this.meta.fps || 30, unit = UNITS[this.unit]?.[1];
    const head = el("tr", {}, ...["track", "", "team", "on screen", unit ? `distance (${unit})` : "distance"].map((h) => el("th", {}, h)));
    const body = rows.map((t) => {
      const s = this.stats.get(t.tracking_id);
      const pick = () => { this.select(t.tracking_id); this.onSelect(t); };
      return el("tr", { "data-track": t.tracking_id, tabindex: 0, class: t.tracking_id === this.selected ? "selected" : null,
        title: "follow this track", onclick: pick, onkeydown: (e) => { if (e.key === "Enter") pick(); } },
        el("td", {}, el("span", { class: "swatch", style: `background:${this.colourOf({ id: t.tracking_id, label: t.label })}` }), `#${t.tracking_id}`),
        el("td", {}, t.label), el("td", {}, t.team || "—"),
        el("td", { class: "num" }, `${(t.frames_seen / fps).toFixed(1)} s`),
        el("td", { class: "num" }, s ? s.distance.toFixed(1) : this.statsFailed ? "—" : "…"));
    });
    document.getElementById("tracks").replaceChildren(el("table", { class: "pick" }, el("thead", {}, head), el("tbody", {}, ...body)));
  }

  // Say what the numbers measure: a court calibration turns picture pixels into metres or feet.
  showUnits() {
    const box = document.getElementById("units");
    if (!this.unit) return;
    const [name, short] = UNITS[this.unit] || [this.unit, this.unit];
    if (this.unit === "px") {
      box.replaceChildren(`Distances in ${name} and speeds in px/s: the court is not calibrated. Calibrate it with `,
        el("code", {}, `bball court set ${this.videoId} X,Y=LANDMARK ...`), " (four or more floor points) to get metres or feet.");
    } else {
      box.replaceChildren(`Distances in ${name} (${short}), speeds in ${short}/s, on the calibrated ` +
        `${this.court ? this.court.court : ""} court.`);
    }
  }

  showSelected() {
    const box = document.getElementById("selected");
    const id = this.selected;
    if (id === null) { box.replaceChildren("Click a player or a row of the tracks table to follow one track."); return; }
    const s = this.stats.get(id), t = this.teams.get(id), u = UNITS[this.unit]?.[1] || "";
    const rows = [["track", `#${id}`], ["team", t?.team || "—"]];
    if (t) rows.push(["frames", `${t.first_frame}–${t.last_frame}`]);
    if (s) rows.push(["on screen", `${s.seconds.toFixed(1)} s`], ["distance", `${s.distance.toFixed(1)} ${u}`],
      ["avg speed", `${s.avg_speed.toFixed(2)} ${u}/s`], ["top speed", `${s.top_speed.toFixed(2)} ${u}/s`]);
    box.replaceChildren(el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
      el("button", { onclick: () => { this.select(null); this.onSelect(null); } }, "clear"));
  }

  showCourt(cal) {
    this.court = cal;
    document.getElementById("court-card").hidden = !cal;
    this.showUnits();
    this.showHeatmaps();
  }

  // The heatmap sheet (teams and players) and, with a track selected, that track's own; click to enlarge.
  showHeatmaps() {
    const body = document.getElementById("heat-body");
    if (!this.court) {
      body.replaceChildren("Heatmaps need the court's calibration: run ",
        el("code", {}, `bball court set ${this.videoId} X,Y=LANDMARK ...`), ".");
      return;
    }
    const figures = [];
    if (this.selected !== null) {
      figures.push(this.figure(`/api/videos/${this.videoId}/tracks/${this.selected}/heatmap.png`, `track #${this.selected}`, "heat-track"));
    }
    figures.push(this.figure(`/api/videos/${this.videoId}/heatmap.png`, "teams and players", "heat-all"));
    body.replaceChildren(...figures, el("p", { class: "muted" }, "Click a heatmap to enlarge it."));
  }

  figure(src, caption, id) {
    const img = el("img", { id, src, alt: `heatmap: ${caption}`, class: "heat", title: "click to enlarge" });
    img.addEventListener("error", () => img.replaceWith(el("p", { class: "muted" }, `No heatmap for ${caption}.`)));
    img.addEventListener("click", () => {
      document.getElementById("heat-large").src = src;
      document.getElementById("heat-dialog-title").textContent = `Heatmap: ${caption}`;
      document.getElementById("heat-dialog").showModal();
    });
    return el("figure", {}, img, el("figcaption", { class: "muted" }, caption));
  }

  drawMinimap(boxes) {
    const court = this.court;
    if (!court) return;
    const c = document.getElementById("minimap"), g = c.getContext("2d");
    const m = 10, s = Math.min((c.width - 2 * m) / court.length, (c.height - 2 * m) / court.width);
    g.fillStyle = "#d7aa78"; g.fillRect(0, 0, c.width, c.height);
    g.strokeStyle = "#fff"; g.lineWidth = 2;
    g.strokeRect(m, m, court.length * s, court.width * s);
    g.beginPath(); g.moveTo(m + court.length * s / 2, m); g.lineTo(m + court.length * s / 2, m + court.width * s); g.stroke();
    for (const b of boxes) {
      const [x, y] = applyH(court.matrix, b.x + b.w / 2, b.y + b.h);
      if (!isFinite(x) || !isFinite(y)) continue;
      g.fillStyle = this.colourOf(b);
      g.beginPath(); g.arc(m + x * s, m + y * s, this.selected === b.id ? 7 : 5, 0, 2 * Math.PI); g.fill();
      g.strokeStyle = this.selected === b.id ? "#fff" : "#222"; g.lineWidth = this.selected === b.id ? 2 : 1; g.stroke();
    }
  }
}

function applyH(m, x, y) {
  const w = m[2][0] * x + m[2][1] * y + m[2][2];
  return [(m[0][0] * x + m[0][1] * y + m[0][2]) / w, (m[1][0] * x + m[1][1] * y + m[1][2]) / w];
}
