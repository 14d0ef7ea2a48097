// The jobs page: local and cloud jobs with live progress (polled every second), queue and cancel.
// The bucket is asked only when this server has one configured; otherwise the page says how to set one up.
import { api, el, fmtSeconds, showError } from "/static/common.js";

const local = document.getElementById("local"), cloud = document.getElementById("cloud");
const form = document.getElementById("create"), status = document.getElementById("create-status");
const POLL_MS = 1000;
let names = new Map();        // video id -> file name
let options = null;           // /api/run-options
let cloudPolling = false;

function videoName(id) { return names.get(id) ?? `video ${id}`; }

function bar(fraction) {
  return el("span", { class: "bar" }, el("span", { style: `width:${Math.round(100 * Math.min(1, fraction || 0))}%` }));
}

function action(label, path) {
  return el("button", { onclick: async () => { try { await api(path, { method: "POST" }); refresh(); } catch (e) { alert(e.message); } } }, label);
}

async function refreshLocal() {
  try {
    const jobs = await api("/api/jobs");
    if (jobs.some((j) => !names.has(j.video_id))) await loadVideos();
    if (!jobs.length) { local.replaceChildren(el("p", { class: "muted" }, "No local jobs.")); return; }
    local.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["id", "video", "status", "progress", "frames", "worker", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...jobs.map((j) => el("tr", { "data-job": j.id, "data-status": j.status },
        el("td", { class: "num" }, j.id), el("td", {}, el("a", { href: `/videos/${j.video_id}`, title: `video ${j.video_id}` }, videoName(j.video_id))),
        el("td", { class: "status" }, j.status + (j.error ? `: ${j.error}` : "")), el("td", {}, bar(j.progress), ` ${Math.round(100 * j.progress)}%`),
        el("td", { class: "num" }, j.frames_processed), el("td", {}, j.worker_id || ""),
        el("td", {}, ...(j.actions || []).map((a) => action(a, `/api/jobs/${j.id}/${a}`))))))));
  } catch (error) { showError(local, error); }
}

function cloudVideo(j) {
  if (j.video_id && names.has(j.video_id)) return el("a", { href: `/videos/${j.video_id}` }, videoName(j.video_id));
  return j.video_name || (j.video_id ? `video ${j.video_id}` : "");
}

async function refreshCloud() {
  try {
    const jobs = await api("/api/cloud/jobs");
    if (!jobs.length) { cloud.replaceChildren(el("p", { class: "muted" }, "No cloud jobs in the bucket.")); return true; }
    cloud.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["job", "video", "status", "progress", "worker", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...jobs.flatMap((j) => [el("tr", { "data-job": j.job_id, "data-status": j.status },
        el("td", {}, j.job_id), el("td", {}, cloudVideo(j)), el("td", { class: "status" }, j.status + (j.error ? `: ${j.error}` : j.problem ? `: ${j.problem}` : "")),
        el("td", {}, j.frames_total ? bar(j.frames_done / j.frames_total) : ""), el("td", {}, j.segments ? `${j.segments.length} segments` : j.worker_id || ""),
        // The server says what a job allows (the one state machine): the page offers exactly that.
        el("td", {}, ...(j.actions || []).map((a) => action(a, `/api/cloud/jobs/${j.job_id}/${a}`)))),
        // A segmented job's segments, each on its own line: frames, status, progress, worker.
        ...(j.segments || []).map((s) => el("tr", { class: "segment", "data-segment": s.job_id, "data-status": s.status },
          el("td", { class: "muted" }, s.index === undefined ? s.job_id : `\u2003${s.index + 1}/${s.count} frames ${s.start_frame}\u2013${s.end_frame}`),
          el("td", {}, ""), el("td", { class: "status" }, s.status + (s.error ? `: ${s.error}` : s.problem ? `: ${s.problem}` : "")),
          el("td", {}, s.frames_total ? bar(s.frames_done / s.frames_total) : ""), el("td", {}, s.worker_id || ""), el("td", {}, "")))]))));
    return true;
  } catch (error) { cloud.replaceChildren(el("p", { class: "muted" }, error.message)); return false; }
}

// A bucket that answered with an error is asked again every 10 s, not every second.
let cloudRetryAt = 0;
function refresh() {
  refreshLocal();
  if (cloudPolling && Date.now() >= cloudRetryAt) refreshCloud().then((ok) => (cloudRetryAt = ok ? 0 : Date.now() + 10_000));
}

// The run's parameters as the jobs routes take them; empty fields leave the server's defaults.
function runBody() {
  const data = new FormData(form), cloudRun = data.get("where") === "cloud";
  const body = { video_id: Number(data.get("video_id")), detector: data.get("detector"),
    sample_interval: Number(data.get("sample_interval") || 1) };
  if (data.get("confidence") !== "") body.confidence = Number(data.get("confidence"));
  const prompts = String(data.get("prompts") || "").split("\n").map((p) => p.trim()).filter(Boolean);
  if (prompts.length) body.prompts = prompts;
  if (cloudRun && data.get("segments")) body.segments = Number(data.get("segments"));
  return [cloudRun, body];
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const [cloudRun, body] = runBody();
  try {
    const job = await api(cloudRun ? "/api/cloud/jobs" : "/api/jobs", { method: "POST", body: JSON.stringify(body) });
    status.textContent = `Queued job ${job.id ?? job.job_id} for ${videoName(body.video_id)}` + (job.segments > 1 ? ` in ${job.segments} segments.` : ".");
  } catch (error) { status.textContent = error.message; }
  refresh();
});

// The confidence box shows the chosen detector's own default, which an empty box keeps.
function showDefaultConfidence() {
  const name = document.getElementById("detector").value, defaults = options?.default_confidence || {};
  const box = document.getElementById("confidence"), hint = document.getElementById("confidence-hint");
  box.placeholder = name in defaults ? `default ${defaults[name]}` : "default";
  hint.textContent = "Empty confidence: the detector's own (" +
    Object.entries(defaults).map(([d, c]) => `${d} ${c}`).join(", ") + "). Prompts are used by SAM 3 only, one a line.";
}
document.getElementById("detector").addEventListener("change", showDefaultConfidence);
document.getElementById("where").addEventListener("change", (e) => (document.getElementById("segments").disabled = e.target.value !== "cloud"));

async function loadVideos() {
  const videos = await api("/api/videos");
  names = new Map(videos.map((v) => [v.id, v.file_name]));
  const select = document.getElementById("video-select"), chosen = select.value;
  select.replaceChildren(...videos.map((v) => el("option", { value: v.id }, `${v.file_name} (${fmtSeconds(v.duration)}, id ${v.id})`)));
  if (chosen) select.value = chosen;
}

async function loadOptions() {
  options = await api("/api/run-options");
  document.getElementById("detector").replaceChildren(...options.detectors.map((d) => el("option", { value: d }, d)));
  document.getElementById("sample-interval").max = options.max_sample_interval;
  document.getElementById("prompts").placeholder = options.default_prompt;
  showDefaultConfidence();
  const where = document.getElementById("where").querySelector("option[value=cloud]");
  cloudPolling = options.cloud.configured;
  where.disabled = !cloudPolling;
  if (!cloudPolling) {
    where.textContent = "cloud GPUs (no bucket configured)";
    const problem = options.cloud.problem || "no bucket configured";
    cloud.replaceChildren(el("p", { class: "muted", id: "no-bucket" },
      `${problem[0].toUpperCase()}${problem.slice(1)}. Cloud jobs show here once `, el("code", {}, "bball serve"),
      " runs with a bucket (docs/cloud.md)."));
  }
}

// A server without /api/run-options (older) gets the bucket polled as before.
await Promise.all([loadVideos().catch((error) => showError(local, error)), loadOptions().catch(() => (cloudPolling = true))]);
refresh();
setInterval(refresh, POLL_MS);
