// The boxes behind the viewer: fetched in chunks ahead of the playhead, so drawing a presented frame is a
// synchronous lookup; and drawn with a halo so a box shows on any jersey and floor.
import { api } from "/static/common.js";

export const CHUNK = 300;     // frames per detections request (10 s at 30 fps)
const AHEAD = 2;              // chunks kept loading ahead of the playhead (a 2x playback crosses one in 5 s)

export class BoxStore {
  /** Boxes of video `videoId` (`count` frames); `onLoad(index)` runs when a chunk arrives. */
  constructor(videoId, count, onLoad = () => {}) {
    this.videoId = videoId;
    this.count = count;
    this.onLoad = onLoad;
    this.loaded = new Map();    // chunk index -> {byFrame: Map<frame, box[]>, stride}
    this.pending = new Map();   // chunk index -> Promise
  }

  get chunks() { return Math.ceil(this.count / CHUNK); }

  /** Start loading chunk `index` unless it is loaded or on its way; resolves when it is loaded. */
  request(index) {
    if (index < 0 || index >= this.chunks) return Promise.resolve();
    if (this.loaded.has(index)) return Promise.resolve();
    if (!this.pending.has(index)) {
      const start = index * CHUNK, end = Math.min(this.count, start + CHUNK);
      const p = api(`/api/videos/${this.videoId}/detections?start=${start}&end=${end}`).then((d) => {
        this.loaded.set(index, parse(d));
        this.pending.delete(index);
        this.onLoad(index);
      }, (error) => { this.pending.delete(index); throw error; });
      this.pending.set(index, p);
    }
    return this.pending.get(index);
  }

  /** Load the chunk holding `frame`, then the next ones (after it, so they never delay the one needed now);
   *  resolves when `frame`'s chunk is there. */
  prefetch(frame) {
    const index = Math.floor(frame / CHUNK), here = this.request(index);
    const ahead = () => { for (let i = 1; i <= AHEAD; i++) this.request(index + i).catch(() => {}); };
    if (this.loaded.has(index)) ahead(); else here.then(ahead, () => {});
    return here;
  }

  /** The boxes to draw on `frame`, or null while its chunk is not loaded. A sampled run (every k-th frame
   *  stored) shows the last stored frame's boxes for the k-1 frames after it; a run that stored every frame
   *  shows none on a frame without boxes, rather than an older frame's. */
  at(frame) {
    const index = Math.floor(frame / CHUNK), chunk = this.loaded.get(index);
    if (!chunk) return null;
    if (chunk.byFrame.has(frame)) return chunk.byFrame.get(frame);
    for (let f = frame - 1; f > frame - chunk.stride && f >= 0; f--) {
      const c = this.loaded.get(Math.floor(f / CHUNK));
      if (c && c.byFrame.has(f)) return c.byFrame.get(f);
    }
    return [];
  }
}

function parse(d) {
  const byFrame = new Map();
  for (let i = 0; i < d.frame.length; i++) {
    const box = { id: d.id[i], x: d.x[i], y: d.y[i], w: d.w[i], h: d.h[i], conf: d.confidence[i], label: d.labels[d.label[i]] };
    let list = byFrame.get(d.frame[i]);
    if (!list) byFrame.set(d.frame[i], (list = []));
    list.push(box);
  }
  // The run's sampling stride: the smallest gap between frames that have boxes (1 for a run of every frame).
  const frames = [...byFrame.keys()].sort((a, b) => a - b);
  let stride = Infinity;
  for (let i = 1; i < frames.length; i++) stride = Math.min(stride, frames[i] - frames[i - 1]);
  return { byFrame, stride: Number.isFinite(stride) ? Math.min(stride, 30) : 1 };
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
 *  contrasting shade, so a white team shows on a light floor and a navy team on a dark crowd. */
export function drawBoxes(ctx, boxes, sx, sy, { colourOf, labelOf, selected = null }) {
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.lineJoin = "round";
  const order = selected === null ? boxes : [...boxes.filter((b) => b.id !== selected), ...boxes.filter((b) => b.id === selected)];
  for (const b of order) {
    const colour = colourOf(b), halo = contrastOf(colour), mine = selected === b.id;
    const x = b.x * sx, y = b.y * sy, w = b.w * sx, h = b.h * sy;
    ctx.globalAlpha = selected === null || mine ? 1 : 0.35;
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
