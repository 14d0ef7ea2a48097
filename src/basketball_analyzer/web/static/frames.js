// Frame N <-> presentation time, numbered as the server numbers frames: N is the N-th frame the decoder presents.
//
// Measured in Chromium (tests/web/test_playback.py): requestVideoFrameCallback's `metadata.mediaTime` is the
// frame's own timestamp in the file's timeline, exactly as stored (start offset included, 30000/1001 rates and
// variable rates alike), while `video.currentTime` during playback runs up to ±25 ms away from the frame on
// screen. A seek to a frame's exact timestamp may show the frame before it (the browser rounds to microseconds),
// so seeks aim at the middle of the frame's display interval.

export class FrameClock {
  /** `timing` is the video summary's {mode, start, rate, times}; `count` its frame_count. */
  constructor(timing, count) {
    this.mode = timing.mode;
    this.start = Number(timing.start) || 0;
    this.rate = Number(timing.rate) > 0 ? Number(timing.rate) : 30;
    this.times = Array.isArray(timing.times) && timing.times.length ? timing.times : null;
    this.count = Math.max(1, count);
  }

  clamp(n) { return Math.max(0, Math.min(this.count - 1, n)); }

  /** Presentation time of frame n (past a short times list: extrapolated at the average rate). */
  timeOf(n) {
    const t = this.times;
    if (!t) return this.start + n / this.rate;
    if (n < t.length) return t[Math.max(0, n)];
    return t[t.length - 1] + (n - t.length + 1) / this.rate;
  }

  /** The frame whose timestamp is nearest `mediaTime` (what the frame callback reports). */
  frameAt(mediaTime) {
    const t = this.times;
    if (!t) return this.clamp(Math.round((mediaTime - this.start) * this.rate));
    let lo = 0, hi = t.length - 1;
    while (lo < hi) {  // first frame at or after mediaTime
      const mid = (lo + hi) >> 1;
      if (t[mid] < mediaTime) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && mediaTime - t[lo - 1] < t[lo] - mediaTime) lo -= 1;
    return this.clamp(lo);
  }

  /** The frame on screen at a paused `currentTime`: the last one whose timestamp is not after it. */
  frameShowing(seconds) {
    const t = this.times, eps = 1e-6;
    if (!t) return this.clamp(Math.floor((seconds - this.start) * this.rate + eps));
    let lo = 0, hi = t.length;
    while (lo < hi) {  // first frame after `seconds`
      const mid = (lo + hi) >> 1;
      if (t[mid] <= seconds + eps) lo = mid + 1; else hi = mid;
    }
    return this.clamp(lo - 1);
  }

  /** Where to seek to show frame n: the middle of its display interval. */
  seekTime(n) {
    n = this.clamp(n);
    const here = this.timeOf(n);
    const next = n + 1 < this.count ? this.timeOf(n + 1) : here + (n > 0 ? here - this.timeOf(n - 1) : 1 / this.rate);
    return (here + next) / 2;
  }

  /** m:ss.t since frame 0 (the file's start offset is not game time). */
  clock(n) { return formatClock(this.timeOf(n) - this.start); }
}

/** Seconds as m:ss.t (tenths truncated, so the clock never shows a time the frame has not reached). */
export function formatClock(seconds) {
  const tenths = Math.max(0, Math.floor(seconds * 10 + 1e-6));
  const m = Math.floor(tenths / 600), s = Math.floor((tenths % 600) / 10);
  return `${m}:${String(s).padStart(2, "0")}.${tenths % 10}`;
}

/** The timing to use for a summary from a server that does not send one yet: frame N at N / fps. */
export function timingOf(meta) {
  return meta.timing ?? { mode: "unknown", start: 0, rate: meta.fps, times: null };
}
