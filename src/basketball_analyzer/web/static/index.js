import { api, el, fmtSeconds, showError } from "/static/common.js";

const box = document.getElementById("videos");

async function load() {
  try {
    const videos = await api("/api/videos");
    if (!videos.length) { box.replaceChildren(el("p", { class: "muted" }, "No videos yet: upload one below or run `bball video add`.")); return; }
    const rows = videos.map((v) => el("tr", { "data-video": v.id },
      el("td", {}, el("a", { href: `/videos/${v.id}` }, el("img", { class: "thumb", src: `/api/videos/${v.id}/thumbnail.jpg`, alt: "" }))),
      el("td", { class: "num" }, v.id),
      el("td", {}, el("a", { href: `/videos/${v.id}` }, v.file_name)),
      el("td", { class: "num" }, fmtSeconds(v.duration)),
      el("td", { class: "num" }, v.detections.toLocaleString()),
      el("td", { class: "num" }, v.tracks),
      el("td", {}, v.teams ? "yes" : "—"),
      el("td", {}, v.latest_job ? `#${v.latest_job.id} ${v.latest_job.status}` : "—")));
    box.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["", "id", "file", "length", "detections", "tracks", "teams", "latest job"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)));
  } catch (error) { showError(box, error); }
}

document.getElementById("upload").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("upload-status");
  const data = new FormData(event.target);
  status.textContent = "Uploading…";
  const response = await fetch("/api/videos", { method: "POST", body: data, credentials: "same-origin" });
  const body = await response.json();
  status.textContent = response.ok ? `Registered video ${body.id}.` : body.error;
  load();
});

load();
