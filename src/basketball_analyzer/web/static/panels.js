// The video page's side panels: the selected player or track, the court minimap, the players list (the tracks
// table before players exist) and the heatmaps. Tracks, players, court and stats (slow on a long game) fill in as
// they arrive; the video and its boxes never wait.
import { api, el } from "/static/common.js";
import { CourtView, loadCourts } from "/static/courtlines.js";
import { PlayerList, Players, playerName } from "/static/players.js";

const UNITS = { m: ["metres", "m"], ft: ["feet", "ft"], px: ["pixels of the picture", "px"] };

export class Panels {
  /** `colourOf(box)` colours a box; `onSelect(track row, player or null)` runs when the list selects one;
   *  `onChange()` when the players changed (labels to draw again). */
  constructor(videoId, { colourOf, onSelect, onChange }) {
    this.videoId = videoId;
    this.colourOf = colourOf;
    this.onSelect = onSelect;
    this.onChange = onChange;
    this.teams = new Map();     // track id -> tracks row {team, color, first_frame, ...}
    this.stats = new Map();     // track id -> stats row
    this.unit = null;           // the stats' unit: m, ft or px
    this.court = null;          // the court route's answer (keyframes, unmapped ranges), when calibrated
    this.view = null;           // CourtView of the minimap
    this.version = 0;           // bumped when a keyframe is saved: pictures and stats are asked for again
    this.selected = null;       // followed track id (no player selected)
    this.player = null;         // followed player id: all his tracks, whichever is on screen
    this.players = new Players(videoId);
    this.playerList = new PlayerList(this);
    this.playerStats = new Map(); // player id -> stats row (report.players)
    this.rawTracks = false;     // the tracks table asked for although players exist
    this.trackRows = [];
  }

  load(meta) {
    this.meta = meta;
    // Boxes drawn before the teams or the players arrived get their colours and numbers now.
    api(`/api/videos/${this.videoId}/tracks`).then((rows) => { this.showTracks(rows); this.onChange?.(); }).catch(() => {});
    this.players.load().then(() => { this.showList(); this.showSelected(); this.onChange?.(); }, () => {});
    document.getElementById("list-toggle").addEventListener("click", () => {
      this.rawTracks = !this.rawTracks;
      this.showList();
    });
    this.loadCourt();
  }

  /** After a merge, split or set: the list, the labels, the selected card, the stats and pictures again. */
  playersChanged() {
    this.version += 1;
    this.statsAsked = false;
    if (this.player !== null && !this.players.byId.has(this.player)) this.player = null;
    this.selectPlayer(this.player);
    this.loadStats();
    this.onChange?.();
  }

  loadCourt() {
    return api(`/api/videos/${this.videoId}/court`).then((cal) => this.showCourt(cal), () => this.showCourt(null));
  }

  /** After a keyframe was saved: the court, the stats and the heatmaps again (positions changed). */
  courtChanged() {
    this.version += 1;
    this.statsAsked = false;
    this.loadStats();
    return this.loadCourt();
  }

  /** The stats (seconds of work on a long game): asked once the first frame is drawn, so the server gives the
   *  video and its first boxes their time first. */
  loadStats() {
    if (this.statsAsked) return;
    this.statsAsked = true;
    api(`/api/videos/${this.videoId}/stats`).then((report) => {
      this.stats.clear();
      this.unit = report.unit;
      this.notes = report.notes || [];
      for (const row of report.tracks) this.stats.set(row.tracking_id, row);
      this.playerStats = new Map((report.players || []).map((p) => [p.player, p]));
      this.showUnits();
      this.showList();
      this.showTracks(this.trackRows);
      this.showSelected();
    }).catch(() => { this.statsFailed = true; this.showTracks(this.trackRows); });
  }

  /** Select what a click on the video hit: the player of track `id` when it has one, else the track (null: none). */
  selectBox(id) {
    const p = id === null ? null : this.players.of(id);
    if (p) this.selectPlayer(p.player); else this.select(id);
  }

  /** Select track `id` (null: none). */
  select(id) {
    this.selected = id;
    this.player = null;
    this.showSelection();
  }

  /** Select player `id` (null: none): his boxes stay highlighted whichever of his tracks is on screen. */
  selectPlayer(id) {
    this.player = id;
    this.selected = null;
    this.showSelection();
  }

  showSelection() {
    document.body.dataset.selected = this.selected === null ? "" : String(this.selected);
    document.body.dataset.selectedPlayer = this.player === null ? "" : String(this.player);
    for (const row of document.querySelectorAll("#tracks tr[data-track]")) {
      row.classList.toggle("selected", Number(row.dataset.track) === this.selected);
    }
    this.showList();
    this.showSelected();
    this.showHeatmaps();
  }

  /** The track ids to draw highlighted (all the selected player's tracks), or null when nothing is selected. */
  highlighted() {
    if (this.player !== null) return new Set(this.players.byId.get(this.player)?.tracks || []);
    return this.selected === null ? null : new Set([this.selected]);
  }

  /** What the selection is called in the status line: "#23 Ada Lovelace", "player 4" or "#17" (a track). */
  selectionName() {
    if (this.player !== null) return playerName(this.players.byId.get(this.player) || { player: this.player });
    return this.selected === null ? null : `#${this.selected}`;
  }

  /** The players list once players exist (the tracks table on request), else the tracks table and the hint. */
  showList() {
    const players = this.players.any && !this.rawTracks;
    document.getElementById("list-title").textContent = players ? `Players (${this.players.list.length})` : "Tracks";
    document.getElementById("tracks").hidden = players;
    document.getElementById("players").hidden = !players;
    const toggle = document.getElementById("list-toggle");
    toggle.hidden = !this.players.any;
    toggle.textContent = players ? "show tracks" : "show players";
    document.getElementById("players-hint").textContent = this.players.any ? "" : this.players.hint || "";
    document.body.dataset.players = String(this.players.list.length);
    if (players) this.playerList.show(document.getElementById("players"));
  }

  frameDrawn(frame, boxes) {
    this.drawn = [frame, boxes];  // the court may arrive after the frame: then the minimap is drawn for it
    this.drawMinimap(frame, boxes);
  }

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
    if (this.unit === "px" && this.court) {  // calibrated, yet the stats could not use it: say what they said
      box.replaceChildren(`Distances in ${name} and speeds in px/s: the stats did not use the court's calibration` +
        (this.notes?.length ? ` (${this.notes[0]}).` : "."));
    } else if (this.unit === "px") {
      box.replaceChildren(`Distances in ${name} and speeds in px/s: the court is not calibrated. Use Calibrate court `,
        "under the video, or run ", el("code", {}, `bball court set ${this.videoId} X,Y=LANDMARK ...`),
        " (four or more floor points), to get metres or feet.");
    } else {
      box.replaceChildren(`Distances in ${name} (${short}), speeds in ${short}/s, on the calibrated ` +
        `${this.court ? this.court.court : ""} court.`);
    }
  }

  showSelected() {
    const box = document.getElementById("selected");
    const id = this.selected, clear = el("button", { id: "clear-selection", onclick: () => { this.select(null); this.onSelect(null); } }, "clear");
    document.getElementById("selected-title").textContent = this.player !== null ? "Selected player" : "Selected track";
    const p = this.player === null ? null : this.players.byId.get(this.player);
    if (p) { box.replaceChildren(...this.playerList.card(p), clear); return; }
    if (id === null) { box.replaceChildren("Click a player or a row of the list beside the video to follow him."); return; }
    const s = this.stats.get(id), t = this.teams.get(id), u = UNITS[this.unit]?.[1] || "";
    const rows = [["track", `#${id}`], ["team", t?.team || "—"]];
    if (t) rows.push(["frames", `${t.first_frame}–${t.last_frame}`]);
    if (s) rows.push(["on screen", `${s.seconds.toFixed(1)} s`], ["distance", `${s.distance.toFixed(1)} ${u}`],
      ["avg speed", `${s.avg_speed.toFixed(2)} ${u}/s`], ["top speed", `${s.top_speed.toFixed(2)} ${u}/s`]);
    box.replaceChildren(el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))), clear);
  }

  async showCourt(cal) {
    if (cal) {
      const c = document.getElementById("minimap");
      this.view = new CourtView((await loadCourts()).get(cal.court), c.width, c.height);
    }
    this.court = cal;
    document.getElementById("court-card").hidden = !cal;
    document.getElementById("off-court-toggle").hidden = !cal?.followed;
    this.showCourtInfo();
    this.showUnits();
    this.showHeatmaps();
    if (this.drawn) this.drawMinimap(...this.drawn);
    document.body.dataset.court = cal ? cal.court : "";
  }

  // What the mapping covers: its keyframes and fit, how many frames the followed camera maps, which not and why.
  showCourtInfo() {
    const cal = this.court;
    if (!cal) return;
    let info = document.getElementById("court-info");
    if (!info) document.getElementById("court-card").append((info = el("div", { id: "court-info", class: "muted units" })));
    const keys = cal.keyframes.map((k) => `${k.frame} (${k.rms_error.toFixed(2)} ${cal.unit})`).join(", ");
    const lines = [el("p", {}, `${cal.court.toUpperCase()} court, ${cal.unit}. Keyframes at frame ${keys}.`)];
    if (!cal.followed) lines.push(el("p", {}, "The camera is not followed yet: no court positions."));
    else {
      lines.push(el("p", {}, `Mapped ${cal.mapped_frames} of ${cal.frames} frames.`));
      for (const r of cal.unmapped) lines.push(el("p", { class: "unmapped" }, `Unmapped: frames ${r.start}–${r.end - 1} (${r.reason}).`));
    }
    info.replaceChildren(...lines);
  }

  // The heatmap sheet (teams and players) and, with a track selected, that track's own; click to enlarge.
  showHeatmaps() {
    const body = document.getElementById("heat-body");
    if (!this.court) {
      body.replaceChildren("Heatmaps need the court's calibration: use Calibrate court under the video, or run ",
        el("code", {}, `bball court set ${this.videoId} X,Y=LANDMARK ...`), ".");
      return;
    }
    const figures = [], p = this.player === null ? null : this.players.byId.get(this.player);
    if (p) {
      figures.push(this.figure(`/api/videos/${this.videoId}/players/${p.player}/heatmap.png${this.fresh()}`, playerName(p), "heat-player"));
    } else if (this.selected !== null) {
      figures.push(this.figure(`/api/videos/${this.videoId}/tracks/${this.selected}/heatmap.png${this.fresh()}`, `track #${this.selected}`, "heat-track"));
    }
    figures.push(this.figure(`/api/videos/${this.videoId}/heatmap.png${this.fresh()}`, "teams and players", "heat-all"));
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

  // After a keyframe is saved the same picture URL means new pixels: a query the browser's cache has not seen.
  fresh() { return this.version ? `?v=${this.version}` : ""; }

  /** The minimap of `frame`: a dot per box on the court, at the position the server computed for it. People off
   *  the court (benches, staff, crowd) and boxes in unmapped frames are left out; the note says why a frame has
   *  no dots. */
  drawMinimap(frame, boxes) {
    const view = this.view;
    if (!this.court || !view) return;
    const c = document.getElementById("minimap"), g = c.getContext("2d");
    view.draw(g);
    let drawn = 0;
    const lit = this.highlighted();
    for (const b of boxes) {
      if (b.on !== true) continue;
      const [x, y] = view.px([b.cx, b.cy]), mine = lit !== null && lit.has(b.id);
      g.fillStyle = this.colourOf(b);
      g.beginPath(); g.arc(x, y, mine ? 7 : 5, 0, 2 * Math.PI); g.fill();
      g.strokeStyle = mine ? "#fff" : "#222"; g.lineWidth = mine ? 2 : 1; g.stroke();
      drawn += 1;
    }
    c.dataset.dots = String(drawn);
    const gap = (this.court.unmapped || []).find((r) => frame >= r.start && frame < r.end);
    let note = document.getElementById("minimap-note");
    if (!note) c.after((note = el("p", { id: "minimap-note", class: "muted units" })));
    note.textContent = !this.court.followed ? "" : gap ? `Frame ${frame} is unmapped: ${gap.reason}.` :
      `${drawn} on the court` + (boxes.length > drawn ? `, ${boxes.length - drawn} off it` : "") + ".";
  }
}
