// The boxes behind the viewer: fetched in chunks ahead of the playhead, so drawing a presented frame is a
// synchronous lookup; and drawn with a halo so a box shows on any jersey and floor.
import { api } from "/static/common.js";

export const CHUNK = 300;     // frames per detections request (10 s at 30 fps)
const AHEAD = 2;              // chunks kept loading ahead of the playhead (a 2x playback crosses one in 5 s)
const QUICK = 30;             // frames asked first after a seek, a tenth of a chunk: back ten times sooner
const LOOKBACK = 30;          // the widest sampling stride whose boxes stay on screen until the next stored frame

export class BoxStore {
  /** Boxes of video `videoId` (`count` frames). */
  constructor(videoId, count) {
    this.videoId = videoId;
    this.count = count;
    this.loaded = new Map();    // chunk index -> {start, end, byFrame: Map<frame, box[]>, stride}
    this.pending = new Map();   // chunk index -> Promise
    this.quick = [];            // small pieces read after a seek, until their chunk is loaded
  }

  get chunks() { return Math.ceil(this.count / CHUNK); }

  fetch(start, end) {
    return api(`/api/videos/${this.videoId}/detections?start=${start}&end=${end}`).then((d) => parse(d, start, end));
  }

  /** Start loading chunk `index` unless it is loaded or on its way; resolves when it is loaded. */
  request(index) {
    if (index < 0 || index >= this.chunks || this.loaded.has(index)) return Promise.resolve();
    if (!this.pending.has(index)) {
      const start = index * CHUNK;
      this.pending.set(index, this.fetch(start, Math.min(this.count, start + CHUNK)).then((piece) => {
        this.loaded.set(index, piece);
        this.quick = this.quick.filter((q) => Math.floor(q.start / CHUNK) !== index);
      }).finally(() => this.pending.delete(index)));
    }
    return this.pending.get(index);
  }

  /** Make `frame`'s boxes available, then its chunk's, then the next chunks' (each after the one before, so
   *  read-ahead never delays what is needed now); resolves when `frame` can be drawn. After a seek into a
   *  chunk nobody asked for yet, a small piece around the frame comes first. */
  prefetch(frame) {
    const index = Math.floor(frame / CHUNK);
    const ahead = () => { for (let i = 1; i <= AHEAD; i++) this.request(index + i).catch(() => {}); };
    if (this.loaded.has(index)) { ahead(); return Promise.resolve(); }
    if (this.pending.has(index)) return this.pending.get(index).then(ahead);
    const asked = this.quickPiece(frame);
    if (asked) return asked.ready.then(() => {});  // its chunk is asked for once it arrives
    const chunkStart = index * CHUNK, chunkEnd = Math.min(this.count, chunkStart + CHUNK);
    const start = Math.max(chunkStart, frame - LOOKBACK + 1), end = Math.min(chunkEnd, frame + QUICK);
    const piece = { start, end, byFrame: null, ready: null };
    this.quick.push(piece);
    piece.ready = this.fetch(start, end).then((got) => Object.assign(piece, got), (error) => {
      this.quick = this.quick.filter((q) => q !== piece);
      throw error;
    });
    piece.ready.then(() => this.request(index).then(ahead), () => {}).catch(() => {});
    return piece.ready.then(() => {});
  }

  quickPiece(frame) { return this.quick.find((q) => frame >= q.start && frame < q.end); }

  /** The boxes to draw on `frame`, or null while they are not loaded. A sampled run (every k-th frame stored)
   *  shows the last stored frame's boxes for the k-1 frames after it; a run that stored every frame shows none
   *  on a frame without boxes, rather than an older frame's. */
  at(frame) {
    const index = Math.floor(frame / CHUNK);
    const piece = this.loaded.get(index) || this.quickPiece(frame);
    if (!piece || !piece.byFrame) return null;
    if (piece.byFrame.has(frame)) return piece.byFrame.get(frame);
    for (let f = frame - 1; f > frame - piece.stride && f >= 0; f--) {
      const p = f >= piece.start ? piece : this.loaded.get(Math.floor(f / CHUNK));
      if (p && p.byFrame.has(f)) return p.byFrame.get(f);
    }
    return [];
  }
}

function parse(d, start, end) {
  const byFrame = new Map();
  for (let i = 0; i < d.frame.length; i++) {
    // cx, cy: the court position the server computed; on: on the court (true), off it (false), unmapped (null).
    const box = { id: d.id[i], x: d.x[i], y: d.y[i], w: d.w[i], h: d.h[i], conf: d.confidence[i], label: d.labels[d.label[i]],
      cx: d.court_x?.[i] ?? null, cy: d.court_y?.[i] ?? null, on: d.on_court?.[i] ?? null };
    let list = byFrame.get(d.frame[i]);
    if (!list) byFrame.set(d.frame[i], (list = []));
    list.push(box);
  }
  // The run's sampling stride: the smallest gap between frames that have boxes (1 for a run of every frame).
  const frames = [...byFrame.keys()].sort((a, b) => a - b);
  let stride = Infinity;
  for (let i = 1; i < frames.length; i++) stride = Math.min(stride, frames[i] - frames[i - 1]);
  return { start, end, byFrame, stride: Number.isFinite(stride) ? Math.min(stride, LOOKBACK) : 1 };
}

/** Relative luminance 0..255 of a #rrggbb colour. */
export function luminance(colour) {
  if (!/^#[0-9a-f]{6}$/i.test(colour)) return 128;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** Black on light colours, white on dark ones: for label text and for a box's halo. */
export function contrastOf(colour) { return luminance(colour) > 140 ? "#000000" : "#ffffff"; }

/** Draw `boxes` (video pixels) on `ctx` scaled by (sx, sy): each box in its colour over a halo of the
 *  contrasting shade, so a white team shows on a light floor and a navy team on a dark crowd. `selected` is a
 *  Set of track ids drawn bright and on top (a player's tracks) while the others dim, or null. People off the
 *  court (benches, staff, crowd) are drawn dimmed, or not at all with `hideOffCourt`. */
export function drawBoxes(ctx, boxes, sx, sy, { colourOf, labelOf, selected = null, hideOffCourt = false }) {
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.lineJoin = "round";
  const isMine = (b) => selected !== null && selected.has(b.id);
  const order = selected === null ? boxes : [...boxes.filter((b) => !isMine(b)), ...boxes.filter(isMine)];
  for (const b of order) {
    const off = b.on === false, mine = isMine(b);
    if (off && hideOffCourt && !mine) continue;
    const colour = colourOf(b), halo = contrastOf(colour);
    const x = b.x * sx, y = b.y * sy, w = b.w * sx, h = b.h * sy;
    ctx.globalAlpha = off && !mine ? 0.25 : selected === null || mine ? 1 : 0.35;
    ctx.lineWidth = mine ? 8 : 6;
    ctx.strokeStyle = halo;
    ctx.strokeRect(x, y, w, h);
    ctx.lineWidth = mine ? 4 : 3;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    const text = labelOf(b), tw = ctx.measureText(text).width + 8;
    ctx.fillStyle = halo;
    ctx.fillRect(x - 1.5, y - 19.5, tw + 3, 19);
    ctx.fillStyle = colour;
    ctx.fillRect(x, y - 18, tw, 16);
    ctx.fillStyle = halo;
    ctx.fillText(text, x + 4, y - 5);
  }
  ctx.globalAlpha = 1;
}
