// Courts drawn from above, from the server's own description (/api/courts: size, unit, landmarks and the painted
// lines in court units), so the minimap and the calibration's court picture show the lines Python fits and
// draws. Seen from above a court needs one scale and an offset, never a homography: positions come computed.
import { api } from "/static/common.js";

let courts = null;

/** The courts by name (fiba, nba), asked once per page. */
export function loadCourts() {
  courts ??= api("/api/courts").then((list) => new Map(list.map((c) => [c.name, c])));
  return courts;
}

/** A court fitted into a `width` x `height` canvas with `margin` pixels around its lines. */
export class CourtView {
  constructor(court, width, height, margin = 10) {
    this.court = court;
    this.width = width;
    this.height = height;
    this.scale = Math.min((width - 2 * margin) / court.length, (height - 2 * margin) / court.width);
    this.ox = (width - court.length * this.scale) / 2;
    this.oy = (height - court.width * this.scale) / 2;
  }

  /** Canvas pixels of a court point [x, y]. */
  px([x, y]) { return [this.ox + x * this.scale, this.oy + y * this.scale]; }

  /** The court point [x, y] under canvas pixels (px, py). */
  at(px, py) { return [(px - this.ox) / this.scale, (py - this.oy) / this.scale]; }

  /** The floor and its painted lines. */
  draw(g) {
    g.fillStyle = "#d7aa78";
    g.fillRect(0, 0, this.width, this.height);
    g.strokeStyle = "#ffffff";
    g.lineWidth = 2;
    for (const line of this.court.lines) {
      g.beginPath();
      line.forEach((p, i) => { const [x, y] = this.px(p); i ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke();
    }
  }

  /** The landmark nearest canvas pixels (px, py) within `radius` pixels, as [name, [x, y]], or null. */
  snap(px, py, radius) {
    let best = null, bestDistance = radius;
    for (const [name, point] of Object.entries(this.court.landmarks)) {
      const [x, y] = this.px(point), d = Math.hypot(x - px, y - py);
      if (d <= bestDistance) { best = [name, point]; bestDistance = d; }
    }
    return best;
  }
}

/** Draw image polylines (video pixels, as the server sends them) on `g`, scaled by (sx, sy), over a dark halo. */
export function drawImageLines(g, lines, sx, sy, colour, { dashed = false } = {}) {
  g.save();
  g.lineJoin = "round";
  if (dashed) g.setLineDash([8, 6]);
  for (const [width, style] of [[5, "rgba(0,0,0,0.55)"], [2, colour]]) {
    g.lineWidth = width;
    g.strokeStyle = style;
    for (const line of lines) {
      g.beginPath();
      line.forEach(([x, y], i) => (i ? g.lineTo(x * sx, y * sy) : g.moveTo(x * sx, y * sy)));
      g.stroke();
    }
  }
  g.restore();
}
