// The video's players (tracks joined into one id per person, `bball players`): what a box is labelled, the players
// list that replaces the tracks table once players exist, the selected player's card with his fields and tracks,
// and merging from the page. Numbers, names and the server's refusals are data: they go into the page as text
// (el(), textContent), never as markup.
import { api, el } from "/static/common.js";

const TEAMS = ["A", "B", "other"];

/** "#23 Ada Lovelace", "#23", "Ada Lovelace", or null for a player with neither number nor name. */
export function playerTag(p) {
  if (!p) return null;
  if (p.number !== null && p.number !== undefined) return `#${p.number}` + (p.name ? ` ${p.name}` : "");
  return p.name || null;
}

/** How a player is named in the page: his tag, or "player N". */
export function playerName(p) { return playerTag(p) || `player ${p.player}`; }

/** The players of one video as the server stores them, and the writes that change them. */
export class Players {
  constructor(videoId) {
    this.videoId = videoId;
    this.list = [];
    this.byId = new Map();     // player id -> player
    this.byTrack = new Map();  // track id -> player
    this.hint = null;          // what to run when there are none
  }

  load() { return api(`/api/videos/${this.videoId}/players`).then((d) => this.take(d)); }

  take(d) {
    this.list = d.players;
    this.hint = d.hint;
    this.byId = new Map(d.players.map((p) => [p.player, p]));
    this.byTrack = new Map(Object.entries(d.track_players).map(([t, p]) => [Number(t), this.byId.get(p)]));
    return d;
  }

  get any() { return this.list.length > 0; }

  /** The player track `trackId` belongs to, or null. */
  of(trackId) { return this.byTrack.get(trackId) ?? null; }

  post(path, body) {
    return api(`/api/videos/${this.videoId}/players/${path}`, { method: "POST", body: JSON.stringify(body) })
      .then((d) => this.take(d));
  }

  /** Join `ids` into the first; resolves to the kept player (the server refuses overlapping tracks, two teams). */
  merge(ids) { return this.post("merge", { players: ids }).then((d) => d.player); }

  split(trackId) { return this.post("split", { track: trackId }); }

  set(playerId, fields) { return this.post(String(playerId), fields).then((d) => d.player); }
}

/** The players list, the merge control and the selected player's card, drawn for `panels` (panels.js). */
export class PlayerList {
  constructor(panels) {
    this.panels = panels;
    this.picks = [];  // player ids ticked for a merge, in the order ticked: the first keeps his id
  }

  get players() { return this.panels.players; }

  /** The players table (swatch, number, name, team, tracks, time on screen, distance) and the merge control. */
  show(box) {
    const panels = this.panels, fps = panels.meta?.fps || 30;
    this.picks = this.picks.filter((id) => this.players.byId.has(id));
    const unit = { m: "m", ft: "ft", px: "px" }[panels.unit];
    const head = el("tr", {}, ...["", "", "no.", "name", "tracks", "time", unit ? `dist. (${unit})` : "dist."]
      .map((h) => el("th", {}, h)));
    const rows = this.players.list.map((p) => {
      const s = panels.playerStats.get(p.player);
      const pick = () => { panels.selectPlayer(p.player); panels.onSelect(p); };
      const tick = el("input", { type: "checkbox", class: "merge-pick", "data-player": p.player,
        title: "tick to merge", "aria-label": `merge ${playerName(p)}`, onclick: (e) => e.stopPropagation(),
        onchange: (e) => this.tick(p.player, e.target.checked) });
      tick.checked = this.picks.includes(p.player);
      return el("tr", { "data-player": p.player, tabindex: 0, title: "follow this player",
        class: p.player === panels.player ? "selected" : null,
        onclick: pick, onkeydown: (e) => { if (e.key === "Enter" && e.target === e.currentTarget) pick(); } },
        el("td", {}, tick),
        el("td", { title: p.team ? `team ${p.team}` : "no team" },
          el("span", { class: "swatch", style: `background:${panels.colourOf({ id: p.tracks[0], label: "player" })}` })),
        el("td", { class: "jersey" }, p.number !== null ? `#${p.number}` : "—"),
        // Neither number nor name: his tracks, as his boxes are labelled.
        el("td", { class: p.name || p.number !== null ? "pname" : "pname muted" },
          p.name || (p.number !== null ? "—" : p.tracks.map((t) => `track ${t}`).join(", "))),
        el("td", { class: "num", title: `tracks ${p.tracks.join(", ")}` }, p.tracks.length),
        el("td", { class: "num" }, `${(p.frames / fps).toFixed(1)} s`),
        el("td", { class: "num" }, s ? s.distance.toFixed(1) : panels.statsFailed ? "—" : "…"));
    });
    const merge = el("button", { id: "merge", type: "button", onclick: () => this.merge() });
    box.replaceChildren(el("table", { class: "pick players" }, el("thead", {}, head), el("tbody", {}, ...rows)),
      el("div", { class: "merge-bar" }, merge, el("span", { id: "players-status", class: "muted" }, this.message || "")));
    this.showMerge();
  }

  tick(id, on) {
    this.picks = this.picks.filter((p) => p !== id);
    if (on) this.picks.push(id);
    this.say("");
    this.showMerge();
  }

  showMerge() {
    const button = document.getElementById("merge");
    if (!button) return;
    const first = this.players.byId.get(this.picks[0]);
    button.disabled = this.picks.length < 2;
    button.textContent = this.picks.length < 2 ? "Merge: tick two players" :
      `Merge ${this.picks.length} players into ${playerName(first)}`;
  }

  say(text, error = false) {
    this.message = text;
    const line = document.getElementById("players-status");
    if (line) { line.textContent = text; line.className = error ? "error" : "muted"; }
  }

  async merge() {
    const ids = [...this.picks];
    try {
      const kept = await this.players.merge(ids);
      this.picks = [];
      this.message = `Player ${kept.player} now holds tracks ${kept.tracks.join(", ")}.`;
      if (ids.includes(this.panels.player)) this.panels.player = kept.player;
      this.panels.playersChanged();
    } catch (error) {
      this.say(error.message, true);  // the server's one line, as text
    }
  }

  /** The selected player's card: his fields, his tracks (each can be split off), his stats, and a form to set
   *  his number, name and team. */
  card(p) {
    const panels = this.panels, s = panels.playerStats.get(p.player), u = { m: "m", ft: "ft", px: "px" }[panels.unit] || "";
    const rows = [["player", playerName(p)], ["team", p.team || "—"], ["frames", `${p.first_frame}–${p.last_frame}`]];
    if (s) rows.push(["on screen", `${s.seconds.toFixed(1)} s`], ["distance", `${s.distance.toFixed(1)} ${u}`],
      ["avg speed", `${s.avg_speed.toFixed(2)} ${u}/s`], ["top speed", `${s.top_speed.toFixed(2)} ${u}/s`]);
    const tracks = el("ul", { class: "player-tracks" }, ...p.tracks.map((t) => {
      const row = panels.teams.get(t);
      return el("li", { "data-track": t }, `track ${t}` + (row ? ` (frames ${row.first_frame}–${row.last_frame})` : ""),
        p.tracks.length > 1 ? el("button", { type: "button", class: "split", title: "make this track a player of its own",
          onclick: () => this.split(t) }, "split off") : "");
    }));
    return [el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
      el("p", { class: "muted units" }, `${p.tracks.length} track${p.tracks.length === 1 ? "" : "s"}:`), tracks, this.editor(p)];
  }

  // The form to set his number, name and team: the same element while he is unchanged, so what is being typed
  // survives the card being drawn again (the stats arriving, a frame later).
  editor(p) {
    const key = JSON.stringify([p.player, p.number, p.name, p.team]);
    if (this.form?.key === key) return this.form.node;
    const number = el("input", { id: "edit-number", maxlength: 3, size: 3, value: p.number ?? "", "aria-label": "number" });
    const name = el("input", { id: "edit-name", maxlength: 80, value: p.name ?? "", "aria-label": "name" });
    const team = el("select", { id: "edit-team", "aria-label": "team" },
      ...(p.team ? [] : [el("option", { value: "" }, "—")]), ...TEAMS.map((t) => el("option", { value: t }, t)));
    team.value = p.team ?? "";
    const status = el("p", { id: "edit-status", class: "muted" });
    const form = el("form", { id: "player-edit", class: "player-edit" },
      el("label", {}, "number ", number), el("label", {}, "name ", name), el("label", {}, "team ", team),
      el("button", { type: "submit" }, "Save"), status);
    form.addEventListener("submit", (e) => { e.preventDefault(); this.save(p, { number, name, team }, status); });
    this.form = { key, node: form };
    return form;
  }

  async save(p, inputs, status) {
    const fields = {};
    if (inputs.number.value.trim() !== (p.number ?? "")) fields.number = inputs.number.value;
    if (inputs.name.value.trim() !== (p.name ?? "")) fields.name = inputs.name.value;
    if (inputs.team.value && inputs.team.value !== p.team) fields.team = inputs.team.value;
    if (!Object.keys(fields).length) { status.textContent = "Nothing changed."; return; }
    try {
      await this.players.set(p.player, fields);
      this.panels.playersChanged();
    } catch (error) {
      status.textContent = error.message;
      status.className = "error";
    }
  }

  async split(trackId) {
    try {
      await this.players.split(trackId);
      this.message = `Track #${trackId} is a player of its own now.`;
      this.panels.playersChanged();
    } catch (error) {
      this.say(error.message, true);
    }
  }
}
