// Calibrating the court in the browser, on the frame shown: pairs of a spot on the picture and the same spot on a
// drawn court (landmarks snap). After each pair from the fourth on, the server fits the court without storing
// anything and sends its lines back in image pixels, drawn over the picture with the fit's error; saving stores
// the keyframe and the server follows the camera from it. The page never applies a homography itself.
import { api, el } from "/static/common.js";
import { CourtView, drawImageLines, loadCourts } from "/static/courtlines.js";

const MIN_PAIRS = 4;
const SNAP_PX = 12;                  // a click this near a landmark of the drawn court takes the landmark
const LOUPE = 4, LOUPE_PX = 160;     // the loupe under the cursor: magnification, size on screen
const FIT = "#00e5ff", STORED = "#ffd400", POINT = "#ff3df0";

export class Calibrator {
  /** `meta`: the video's summary; `frame()`: the frame on screen; `goTo(n)` shows frame n; `onSaved(result)`
   *  runs once a keyframe is stored (positions changed). */
  constructor(videoId, { meta, frame, goTo, onSaved }) {
    Object.assign(this, { videoId, meta, shownFrame: frame, goTo, onSaved });
    this.card = document.getElementById("calibrate-card");
    this.video = document.getElementById("video");
    this.button = document.getElementById("calibrate");
    this.open = false;
    this.pairs = [];                   // {image: [x, y], court: [x, y], landmark: name or null}
    this.pending = { image: null, court: null };
    this.fit = null;                   // the server's dry-run fit of these pairs, or {error}
    this.stored = null;                // the stored mapping's lines at this frame: {source, reason, lines}
    this.hover = null;                 // the cursor on the picture, video pixels
    this.fits = 0;                     // fits asked; an answer to an older one is dropped
    this.button.addEventListener("click", () => (this.open ? this.close() : this.start()));
    this.video.addEventListener("pause", () => this.frameDrawn(this.shownFrame()));
    window.bballCalibrate = this;      // tests click where a landmark or a pixel is drawn
  }

  async start() {
    this.video.pause();
    this.open = true;
    this.frame = this.shownFrame();
    this.button.textContent = "Close calibration";
    const [courts, existing] = await Promise.all([loadCourts(), this.existingCourt()]);
    this.courts = courts;
    this.courtName = existing?.court ?? this.courtName ?? "fiba";
    this.build();
    this.layer();
    this.reset();
    this.loadStored();
    document.getElementById("overlay").style.visibility = "hidden";  // the lines, not the boxes, are judged here
  }

  close() {
    this.open = false;
    this.card.hidden = true;
    if (this.canvas) this.canvas.hidden = true;
    document.getElementById("overlay").style.visibility = "";
    this.button.textContent = "Calibrate court…";
  }

  existingCourt() {
    return api(`/api/videos/${this.videoId}/court`).then((c) => (this.existing = c), () => (this.existing = null));
  }

  build() {
    const select = el("select", { id: "calib-court", onchange: (e) => { this.courtName = e.target.value; this.reset(); } },
      ...[...this.courts.values()].map((c) => el("option", { value: c.name }, `${c.name.toUpperCase()} ${c.length} × ${c.width} ${c.unit}`)));
    select.value = this.courtName;
    if (this.existing) {
      select.disabled = true;
      select.title = `this video's keyframes are on a ${this.existing.court} court`;
    }
    this.map = el("canvas", { id: "calib-map", width: 400, height: 230, title: "click the spot the picture shows" });
    this.map.addEventListener("click", (e) => this.clickCourt(e));
    this.fixed = el("input", { type: "checkbox", id: "calib-fixed" });
    this.saveButton = el("button", { id: "calib-save", class: "primary", onclick: () => this.save() }, "Save keyframe");
    this.card.replaceChildren(
      el("h3", {}, "Calibrate the court"),
      el("p", { class: "muted hint" }, "Click a spot of the floor on the picture, then the same spot on the court below " +
        "(corners, line ends and the centre snap). Four pairs or more, no three on one line, spread over the floor."),
      el("div", { class: "calib-row" }, el("label", {}, "court ", select), el("span", { id: "calib-frame", class: "muted" })),
      this.map,
      el("div", { id: "calib-pairs" }),
      el("p", { id: "calib-fit", class: "muted" }),
      el("div", { class: "calib-row" },
        el("button", { id: "calib-undo", onclick: () => this.undo() }, "undo"),
        el("button", { id: "calib-clear", onclick: () => this.reset() }, "clear points"),
        el("label", { title: "a tripod that never turns: one mapping for every frame" }, this.fixed, " the camera never moves"),
        this.saveButton),
      el("div", { id: "calib-result" }));
    this.card.hidden = false;
  }

  layer() {
    if (!this.canvas) {
      this.canvas = el("canvas", { id: "calib-layer" });
      document.getElementById("stage").append(this.canvas);
      this.canvas.addEventListener("click", (e) => this.clickPicture(e));
      this.canvas.addEventListener("mousemove", (e) => { this.hover = this.imagePoint(e); this.drawPicture(); });
      this.canvas.addEventListener("mouseleave", () => { this.hover = null; this.drawPicture(); });
      window.addEventListener("resize", () => this.open && this.drawPicture());
    }
    this.canvas.hidden = false;
  }

  get court() { return this.courts.get(this.courtName); }

  reset() {
    this.pairs = [];
    this.pending = { image: null, court: null };
    this.fit = null;
    this.view = new CourtView(this.court, this.map.width, this.map.height, 20);
    this.show();
  }

  undo() {
    if (this.pending.image || this.pending.court) this.pending = { image: null, court: null };
    else this.pairs.pop();
    this.refit();
  }

  /** The frame on screen changed: points belong to the frame they were picked on. */
  frameDrawn(frame) {
    if (!this.open) return;
    if (frame !== this.frame && !this.pairs.length && !this.pending.image) {
      this.frame = frame;
      this.stored = null;
    }
    // The stored mapping's lines of a paused frame (during playback that would be a request a frame).
    if (this.video.paused && frame === this.frame && this.asking !== frame && this.stored?.frame !== frame) this.loadStored();
    this.show();
  }

  loadStored() {
    if (!this.existing) { this.stored = null; this.show(); return; }
    const frame = (this.asking = this.frame);
    api(`/api/videos/${this.videoId}/court/lines?frame=${frame}`).then((m) => {
      if (frame === this.frame) { this.stored = m; this.show(); }
    }, () => {}).finally(() => { if (this.asking === frame) this.asking = null; });
  }

  imagePoint(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.meta.width / r.width, (e.clientY - r.top) * this.meta.height / r.height];
  }

  clickPicture(e) {
    if (this.frame !== this.shownFrame()) return;
    this.pending.image = this.imagePoint(e).map((v) => Math.round(v * 10) / 10);
    this.complete();
  }

  clickCourt(e) {
    const r = this.map.getBoundingClientRect();
    const px = (e.clientX - r.left) * this.map.width / r.width, py = (e.clientY - r.top) * this.map.height / r.height;
    const snapped = this.view.snap(px, py, SNAP_PX);
    this.pending.court = snapped ? { court: snapped[1], landmark: snapped[0] }
      : { court: this.view.at(px, py).map((v) => Math.round(v * 100) / 100), landmark: null };
    this.complete();
  }

  complete() {
    if (this.pending.image && this.pending.court) {
      this.pairs.push({ image: this.pending.image, ...this.pending.court });
      this.pending = { image: null, court: null };
      this.refit();
    } else this.show();
  }

  body() {
    return { frame: this.frame, court: this.courtName, fixed_camera: this.fixed.checked,
      points: this.pairs.map((p) => ({ image: p.image, court: p.landmark ?? p.court })) };
  }

  /** Ask the server to fit these pairs (a dry run: nothing is stored). */
  refit() {
    this.fit = null;
    this.show();
    if (this.pairs.length < MIN_PAIRS) return;
    const asked = ++this.fits;
    api(`/api/videos/${this.videoId}/court/fit`, { method: "POST", body: JSON.stringify(this.body()) })
      .then((fit) => fit, (error) => ({ error: error.message }))
      .then((fit) => { if (asked === this.fits) { this.fit = fit; this.show(); } });
  }

  async save() {
    const result = document.getElementById("calib-result");
    this.saveButton.disabled = true;
    result.replaceChildren(el("p", { class: "muted" }, `Saving frame ${this.frame} as a keyframe and following the camera through ` +
      `${this.meta.frame_count} frames…`));
    let saved;
    try {
      saved = await api(`/api/videos/${this.videoId}/court/keyframes`, { method: "POST", body: JSON.stringify(this.body()) });
    } catch (error) {
      result.replaceChildren(el("p", { class: "error" }, error.message));
      this.show();
      return;
    }
    const unit = saved.unit, lines = [el("p", { class: "ok" }, `Saved frame ${saved.frame} as a keyframe ` +
      `(${saved.rms_error.toFixed(2)} ${unit} RMS). Mapped ${saved.mapped_frames} of ${saved.frames} frames.`)];
    for (const r of saved.unmapped) lines.push(el("p", { class: "unmapped" }, `Unmapped: frames ${r.start}–${r.end - 1} (${r.reason}).`));
    if (saved.unmapped.length) lines.push(el("p", { class: "muted" }, "A keyframe on a frame of an unmapped range maps it."));
    result.replaceChildren(...lines);
    this.card.dataset.saved = String(saved.frame);
    await this.existingCourt();
    document.getElementById("calib-court").disabled = true;
    this.pairs = [];
    this.fit = null;
    this.loadStored();
    this.onSaved(saved);
  }

  // Everything the card and the picture show, from the state.
  show() {
    if (!this.open || !this.map) return;
    this.card.dataset.pairs = String(this.pairs.length);
    this.card.dataset.fit = this.fit === null ? "" : this.fit.error ? "error" : "ok";
    this.showFrame();
    this.drawCourt();
    this.showPairs();
    const status = document.getElementById("calib-fit"), unit = this.court.unit, n = this.pairs.length;
    status.className = this.fit?.error ? "error" : "muted";
    const next = this.pending.image ? "now click that spot on the court." : this.pending.court ? "now click that spot on the picture." : "";
    if (this.fit?.error) status.textContent = this.fit.error;
    else if (this.fit) status.textContent = `Fit: ${this.fit.rms_error.toFixed(2)} ${unit} RMS, ${this.fit.max_error.toFixed(2)} ${unit} ` +
      `at worst, over ${this.fit.points} points. The court's lines are drawn over the picture. ${next}`;
    else if (n >= MIN_PAIRS) status.textContent = "Fitting…";
    else status.textContent = `${n} of ${MIN_PAIRS} pairs. ${next || "Click a spot on the picture or on the court."}`;
    this.saveButton.disabled = !(this.fit && !this.fit.error) || this.frame !== this.shownFrame();
    this.drawPicture();
  }

  showFrame() {
    const box = document.getElementById("calib-frame");
    if (!box) return;
    const shown = this.shownFrame();
    if (shown !== this.frame) {
      box.replaceChildren(`points are on frame ${this.frame} `,
        el("button", { onclick: () => this.goTo(this.frame) }, `back to ${this.frame}`),
        el("button", { onclick: () => { this.frame = shown; this.reset(); this.loadStored(); } }, `start over on ${shown}`));
      return;
    }
    const s = this.stored;
    box.replaceChildren(`on frame ${this.frame}` + (!s ? "" : s.source ? ` · stored mapping: ${s.source} (yellow)` :
      ` · unmapped: ${s.reason}`));
  }

  showPairs() {
    const unit = this.court.unit, errors = this.fit?.errors;
    const rows = this.pairs.map((p, i) => el("tr", {},
      el("td", {}, String(i + 1)),
      el("td", {}, `${p.image[0].toFixed(1)}, ${p.image[1].toFixed(1)}`),
      el("td", {}, p.landmark ? p.landmark.replaceAll("_", " ") : `${p.court[0].toFixed(2)}, ${p.court[1].toFixed(2)} ${unit}`),
      el("td", { class: "num" }, errors ? `${errors[i].toFixed(2)} ${unit}` : ""),
      el("td", {}, el("button", { class: "small", title: "remove this pair", onclick: () => { this.pairs.splice(i, 1); this.refit(); } }, "✕"))));
    const box = document.getElementById("calib-pairs");
    if (!rows.length) { box.replaceChildren(); return; }
    box.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["#", "picture (px)", "court", "error", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)));
  }

  drawCourt() {
    const g = this.map.getContext("2d"), v = this.view;
    v.draw(g);
    g.fillStyle = "#ffffff";
    g.strokeStyle = "#333333";
    g.lineWidth = 1;
    for (const point of Object.values(this.court.landmarks)) {
      const [x, y] = v.px(point);
      g.beginPath(); g.arc(x, y, 3.5, 0, 2 * Math.PI); g.fill(); g.stroke();
    }
    this.pairs.forEach((p, i) => marker(g, v.px(p.court), String(i + 1)));
    if (this.pending.court) marker(g, v.px(this.pending.court.court), "?");
  }

  drawPicture() {
    const c = this.canvas;
    if (!c || c.hidden) return;
    c.width = this.video.clientWidth;
    c.height = this.video.clientHeight;
    const g = c.getContext("2d"), sx = c.width / this.meta.width, sy = c.height / this.meta.height;
    g.clearRect(0, 0, c.width, c.height);
    const here = this.frame === this.shownFrame();
    if (this.fit?.lines && here) drawImageLines(g, this.fit.lines, sx, sy, FIT);
    else if (this.stored?.lines && this.stored.frame === this.shownFrame()) drawImageLines(g, this.stored.lines, sx, sy, STORED, { dashed: true });
    if (here) {
      this.pairs.forEach((p, i) => marker(g, [p.image[0] * sx, p.image[1] * sy], String(i + 1)));
      if (this.pending.image) marker(g, [this.pending.image[0] * sx, this.pending.image[1] * sy], "?");
    }
    if (this.hover) this.loupe(g, sx, sy);
  }

  // A magnified piece of the frame under the cursor, in the corner away from it: clicks land on the pixel meant.
  loupe(g, sx, sy) {
    const [hx, hy] = this.hover, src = LOUPE_PX / LOUPE / sx;
    const left = hx * sx < g.canvas.width / 2, x0 = left ? g.canvas.width - LOUPE_PX - 8 : 8, y0 = 8;
    g.save();
    g.drawImage(this.video, hx - src / 2, hy - src / 2, src, src, x0, y0, LOUPE_PX, LOUPE_PX);
    g.strokeStyle = "#ffffff"; g.lineWidth = 2; g.strokeRect(x0, y0, LOUPE_PX, LOUPE_PX);
    g.strokeStyle = POINT; g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x0 + LOUPE_PX / 2, y0); g.lineTo(x0 + LOUPE_PX / 2, y0 + LOUPE_PX);
    g.moveTo(x0, y0 + LOUPE_PX / 2); g.lineTo(x0 + LOUPE_PX, y0 + LOUPE_PX / 2);
    g.stroke();
    g.restore();
  }

  /** Page coordinates of a video pixel on the picture, and of a landmark on the drawn court (for tests). */
  pictureSpot(x, y) {
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + x * r.width / this.meta.width, y: r.top + y * r.height / this.meta.height };
  }

  courtSpot(point) {
    const r = this.map.getBoundingClientRect(), [px, py] = this.view.px(point);
    return { x: r.left + px * r.width / this.map.width, y: r.top + py * r.height / this.map.height };
  }
}

/** A numbered pick: a ring with its number beside it. */
function marker(g, [x, y], text) {
  g.save();
  g.lineWidth = 3; g.strokeStyle = "#000000";
  g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.stroke();
  g.lineWidth = 2; g.strokeStyle = POINT;
  g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.stroke();
  g.font = "700 12px system-ui, sans-serif";
  g.lineWidth = 3; g.strokeStyle = "#000000"; g.strokeText(text, x + 8, y - 6);
  g.fillStyle = POINT; g.fillText(text, x + 8, y - 6);
  g.restore();
}
