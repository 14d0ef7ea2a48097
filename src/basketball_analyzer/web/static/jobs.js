// The jobs page: local and cloud jobs with live progress (polled every second), queue and cancel.
import { api, el, showError } from "/static/common.js";

const local = document.getElementById("local"), cloud = document.getElementById("cloud");

function bar(fraction) {
  return el("span", { class: "bar" }, el("span", { style: `width:${Math.round(100 * Math.min(1, fraction || 0))}%` }));
}

function action(label, path) {
  return el("button", { onclick: async () => { try { await api(path, { method: "POST" }); refresh(); } catch (e) { alert(e.message); } } }, label);
}

async function refreshLocal() {
  try {
    const jobs = await api("/api/jobs");
    if (!jobs.length) { local.replaceChildren(el("p", { class: "muted" }, "No local jobs.")); return; }
    local.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["id", "video", "status", "progress", "frames", "worker", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...jobs.map((j) => el("tr", { "data-job": j.id, "data-status": j.status },
        el("td", { class: "num" }, j.id), el("td", {}, el("a", { href: `/videos/${j.video_id}` }, j.video_id)),
        el("td", { class: "status" }, j.status + (j.error ? `: ${j.error}` : "")), el("td", {}, bar(j.progress), ` ${Math.round(100 * j.progress)}%`),
        el("td", { class: "num" }, j.frames_processed), el("td", {}, j.worker_id || ""),
        el("td", {}, ["pending", "processing"].includes(j.status) ? action("cancel", `/api/jobs/${j.id}/cancel`) : ""))))));
  } catch (error) { showError(local, error); }
}

async function refreshCloud() {
  try {
    const jobs = await api("/api/cloud/jobs");
    if (!jobs.length) { cloud.replaceChildren(el("p", { class: "muted" }, "No cloud jobs in the bucket.")); return; }
    cloud.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["job", "video", "status", "progress", "worker", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...jobs.flatMap((j) => [el("tr", { "data-job": j.job_id, "data-status": j.status },
        el("td", {}, j.job_id), el("td", {}, j.video_name || j.video_id || ""), el("td", { class: "status" }, j.status + (j.error ? `: ${j.error}` : j.problem ? `: ${j.problem}` : "")),
        el("td", {}, j.frames_total ? bar(j.frames_done / j.frames_total) : ""), el("td", {}, j.segments ? `${j.segments.length} segments` : j.worker_id || ""),
        el("td", {}, j.status === "completed" ? action("import", `/api/cloud/jobs/${j.job_id}/import`) :
          ["pending", "processing"].includes(j.status) ? action("cancel", `/api/cloud/jobs/${j.job_id}/cancel`) :
          j.status === "failed" ? action("retry", `/api/cloud/jobs/${j.job_id}/retry`) : "")),
        // A segmented job's segments, each on its own line: frames, status, progress, worker.
        ...(j.segments || []).map((s) => el("tr", { class: "segment", "data-segment": s.job_id, "data-status": s.status },
          el("td", { class: "muted" }, s.index === undefined ? s.job_id : `\u2003${s.index + 1}/${s.count} frames ${s.start_frame}\u2013${s.end_frame}`),
          el("td", {}, ""), el("td", { class: "status" }, s.status + (s.error ? `: ${s.error}` : s.problem ? `: ${s.problem}` : "")),
          el("td", {}, s.frames_total ? bar(s.frames_done / s.frames_total) : ""), el("td", {}, s.worker_id || ""), el("td", {}, "")))]))));
  } catch (error) { cloud.replaceChildren(el("p", { class: "muted" }, error.message)); }
}

function refresh() { refreshLocal(); refreshCloud(); }

document.getElementById("create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target), status = document.getElementById("create-status");
  const cloudRun = form.get("where") === "cloud", segments = form.get("segments");
  const body = JSON.stringify({ video_id: Number(form.get("video_id")), detector: form.get("detector"),
    ...(cloudRun && segments ? { segments: Number(segments) } : {}) });
  try {
    const job = await api(cloudRun ? "/api/cloud/jobs" : "/api/jobs", { method: "POST", body });
    status.textContent = `Queued job ${job.id ?? job.job_id}` + (job.segments > 1 ? ` in ${job.segments} segments.` : ".");
  } catch (error) { status.textContent = error.message; }
  refresh();
});

api("/api/videos").then((videos) => document.getElementById("video-select").replaceChildren(
  ...videos.map((v) => el("option", { value: v.id }, `${v.id}: ${v.file_name}`))));
refresh();
setInterval(refresh, 1000);
