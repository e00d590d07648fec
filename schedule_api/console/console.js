// The vchannel operator console: a client of the schedule service's public REST API only.
// Every value from the API reaches the page as text (textContent), never as markup.

const KEY = "vchannel-api-key";
const view = document.getElementById("view");
let service = null; // GET /api/service, with the offset of the service's clock
let timers = [];

// --- the API ------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, detail, fields) {
    super(detail);
    this.status = status;
    this.fields = fields; // {name: reason} from problem+json invalid-params
  }
}

async function api(method, path, body) {
  const headers = {};
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const fields = {};
    for (const item of (data && data["invalid-params"]) || []) fields[item.name] = item.reason;
    const detail = (data && data.detail) || `${response.status} ${response.statusText}`;
    if (response.status === 401) {
      throw new ApiError(401, `${detail} (sign in with the API key)`, fields);
    }
    throw new ApiError(response.status, detail, fields);
  }
  return data;
}

async function loadService() {
  const sent = Date.now();
  const info = await api("GET", "/api/service");
  info.offset = info.now_ms - (sent + Date.now()) / 2;
  service = info;
}

function serviceNow() {
  return Date.now() + (service ? service.offset : 0);
}

function lockedUntil() {
  return serviceNow() + service.lock_margin_seconds * 1000;
}

// --- the page -----------------------------------------------------------------------------
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function toast(message, bad = false) {
  const box = h("div", { class: bad ? "bad" : "" }, message);
  document.getElementById("toast").append(box);
  setTimeout(() => box.remove(), 8000);
}

function problemBox(error) {
  return h("div", { class: "problem", role: "alert" }, error.message);
}

function field(form, name, label, input, help) {
  const id = `f-${form}-${name.replaceAll(".", "-")}`;
  input.id = id;
  input.name = name;
  return h(
    "div",
    { "data-field": name },
    h("label", { for: id }, label),
    input,
    help ? h("div", { class: "muted" }, help) : null,
    h("p", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }),
  );
}

function showFieldErrors(form, error) {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  let shown = false;
  for (const [name, reason] of Object.entries(error.fields || {})) {
    const top = name.split(".")[0];
    const holder = form.querySelector(`[data-field="${name}"]`) ||
      form.querySelector(`[data-field="${top}"]`);
    if (holder) {
      holder.querySelector(".field-error").textContent = reason;
      holder.querySelector("input, select, textarea").setAttribute("aria-invalid", "true");
      shown = true;
    }
  }
  if (!shown) form.querySelector(".form-problem").replaceChildren(problemBox(error));
}

function clearTimers() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

// YYYY-MM-DD of an instant in a time zone (the as-run day is the channel's local day)
function localDay(ms, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date(ms));
}

function formatTime(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z").replace("T", " ");
}

// --- sign in ------------------------------------------------------------------------------
function signIn() {
  const input = h("input", { type: "password", autocomplete: "off", size: 44 });
  const form = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        if (input.value) sessionStorage.setItem(KEY, input.value);
        else sessionStorage.removeItem(KEY);
        updateWho();
        location.hash = "#/channels";
      },
    },
    field("signin", "key", "API key (kept for this tab only)", input),
    h("div", { class: "form-row" },
      h("button", { class: "primary", type: "submit" }, "Sign in"),
      service.reads_need_key ? null : h("button", {
        type: "button",
        onclick: () => {
          sessionStorage.removeItem(KEY);
          updateWho();
          location.hash = "#/channels";
        },
      }, "Continue read-only")),
  );
  view.replaceChildren(h("h1", {}, "Sign in"), h("section", {}, form));
}

function updateWho() {
  const who = document.getElementById("who");
  who.textContent = sessionStorage.getItem(KEY) ? "Signed in (sign out)" : "Sign in";
}

function canWrite() {
  return !service.writes_need_key || Boolean(sessionStorage.getItem(KEY));
}

// --- channels -----------------------------------------------------------------------------
async function channelsView() {
  const [channels, assets] = await Promise.all([
    api("GET", "/channels"),
    api("GET", "/assets?limit=200"),
  ]);
  const rows = channels.items.map((channel) => {
    const now = h("td", {}, "…");
    const next = h("td", {}, "");
    const slate = h("td", {}, "");
    const engine = h("td", {}, "…");
    const preview = h("td", {}, h("button", {
      type: "button",
      onclick: (event) => startPreview(event.target.parentElement, channel),
    }, "Preview"));
    api("GET", `/channels/${channel.id}/now`).then((info) => {
      now.textContent = info.current.title;
      next.textContent = info.next ? `${info.next.title} at ${formatTime(info.next.start_ms)}` : "";
    }).catch((error) => { now.textContent = error.message; });
    const today = localDay(serviceNow(), channel.time_zone);
    api("GET", `/channels/${channel.id}/as-run?date=${today}`).then((run) => {
      const hour = run.hours.length ? run.hours[run.hours.length - 1] : null;
      slate.textContent = hour ? `${hour.slate_seconds.toFixed(0)} s` : "0 s";
    }).catch(() => { slate.textContent = "n/a"; });
    engineAnswer(channel).then((answer) => { engine.textContent = answer; });
    return h("tr", {},
      h("td", {}, h("a", { href: `#/channel/${channel.id}` }, channel.id)),
      h("td", {}, channel.name), now, next, slate, engine, preview);
  });
  const table = h("table", {},
    h("thead", {}, h("tr", {},
      ...["Channel", "Name", "On air", "Next", "Slate this hour", "Engine", "Live"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
  view.replaceChildren(
    h("h1", {}, "Channels"),
    h("section", {}, channels.items.length ? table : h("p", {}, "No channels yet.")),
    canWrite() ? createChannelForm(assets.items) : h("p", { class: "muted" }, "Read-only: sign in to create channels."),
  );
}

// What the engine answers for the channel's playlist: "ok", or its status and problem detail
// (a channel not yet on air says when it will be).
async function engineAnswer(channel) {
  try {
    const response = await fetch(service.playback_base_url + channel.playback_path, { cache: "no-store" });
    if (response.ok) return "ok";
    const type = response.headers.get("Content-Type") || "";
    const problem = type.includes("json") ? await response.json() : null;
    return `${response.status}: ${(problem && problem.detail) || response.statusText}`;
  } catch (error) {
    return `unreachable (${error.message})`;
  }
}

function startPreview(cell, channel) {
  const video = h("video", { muted: true, autoplay: true, playsinline: true, "aria-label": `Live preview of ${channel.name}` });
  video.muted = true;
  cell.replaceChildren(video);
  const url = service.playback_base_url + channel.playback_path;
  if (window.Hls && window.Hls.isSupported()) {
    const player = new window.Hls();
    player.loadSource(url);
    player.attachMedia(video);
  } else {
    video.src = url;
  }
}

function createChannelForm(assets) {
  const slate = h("select", {}, assets.map((a) => h("option", { value: a.id }, `${a.title} (${a.id})`)));
  const form = h("form", { novalidate: true });
  const inputs = {
    id: h("input", { required: true, pattern: "[a-z0-9][a-z0-9_-]*" }),
    name: h("input", { required: true }),
    window_seconds: h("input", { type: "number", value: "30", min: "30", step: "1" }),
    break_every: h("input", { type: "number", min: "1", placeholder: "minutes" }),
    break_seconds: h("input", { type: "number", min: "1", placeholder: "seconds" }),
    splice: h("select", {}, h("option", { value: "splice_insert" }, "splice_insert"),
      h("option", { value: "time_signal" }, "time_signal")),
    audio: h("input", { placeholder: "e.g. en:English, fr:Français" }),
  };
  form.append(
    h("div", { class: "form-row" },
      field("create", "id", "Id", inputs.id),
      field("create", "name", "Name", inputs.name),
      field("create", "slate", "Slate", slate),
      field("create", "window_seconds", "Window (s)", inputs.window_seconds)),
    h("div", { class: "form-row" },
      field("create", "break_rule", "Ad break every (min)", inputs.break_every),
      field("create", "break_rule.duration_seconds", "Break length (s)", inputs.break_seconds),
      field("create", "ad_markers", "Ad markers", inputs.splice),
      field("create", "audio_tracks", "Audio tracks", inputs.audio, "language:label, comma-separated; empty: muxed audio")),
    h("div", { class: "form-problem" }),
    h("button", { class: "primary", type: "submit" }, "Create channel"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      id: inputs.id.value,
      name: inputs.name.value,
      slate: slate.value,
      window_seconds: Number(inputs.window_seconds.value),
      ad_markers: { splice_command: inputs.splice.value },
    };
    if (inputs.break_every.value || inputs.break_seconds.value) {
      body.break_rule = {
        every_minutes: Number(inputs.break_every.value),
        duration_seconds: Number(inputs.break_seconds.value),
      };
    }
    if (inputs.audio.value.trim()) {
      body.audio_tracks = inputs.audio.value.split(",").map((part, index) => {
        const [language, label] = part.trim().split(":");
        return { name: `audio-${language}`, language, label: label || language, default: index === 0 };
      });
    }
    try {
      await api("POST", "/channels", body);
      toast(`Channel ${body.id} created`);
      location.hash = `#/channel/${body.id}`;
    } catch (error) {
      showFieldErrors(form, error);
    }
  });
  return h("section", {}, h("h2", {}, "New channel"), form);
}

// --- one channel: grid, rules, as-run ----------------------------------------------------
async function channelView(channelId) {
  const channel = await api("GET", `/channels/${channelId}`);
  const assets = await api("GET", "/assets?limit=200");
  const message = h("div", { id: "grid-message", role: "alert" });
  const container = h("div", { id: "timeline", "aria-label": "Schedule grid" });
  const library = h("ul", { class: "library-list", "aria-label": "Assets to drag onto the grid" },
    assets.items.map((asset) => {
      const item = h("li", { draggable: canWrite() ? "true" : "false", "data-asset": asset.id, tabindex: "0" },
        h("strong", {}, asset.title), h("div", { class: "muted" }, `${asset.duration_seconds.toFixed(1)} s`));
      item.addEventListener("dragstart", (event) => {
        const data = { id: `new-${Date.now()}`, type: "range", content: asset.title, asset: asset.id };
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text", JSON.stringify(data));
      });
      return item;
    }));
  view.replaceChildren(
    h("h1", {}, `${channel.name} (${channel.id})`),
    h("section", {},
      h("h2", {}, "Schedule"),
      h("p", { class: "muted" },
        "The red line is the lock horizon: what starts before it cannot change. Drag an asset onto the grid to schedule it; drag a program to move it, its end to trim it; select it and press Delete to remove it."),
      message,
      h("div", { class: "grid-layout" }, h("div", {}, h("h2", {}, "Library"), library), container)),
    await rulesSection(channel),
    asRunSection(channel),
  );
  await scheduleGrid(channel, container, message);
}

async function scheduleGrid(channel, container, message) {
  const items = new vis.DataSet();
  const now = serviceNow();
  const options = {
    start: now - 3600 * 1000,
    end: now + 6 * 3600 * 1000,
    min: now - 24 * 3600 * 1000,
    max: now + 48 * 3600 * 1000,
    zoomMin: 10 * 60 * 1000,
    zoomMax: 4 * 24 * 3600 * 1000,
    stack: false,
    editable: canWrite() ? { add: true, updateTime: true, remove: true, overrideItems: false } : false,
    snap: null,
    onAdd: (item, callback) => add(item, callback),
    onMove: (item, callback) => move(item, callback),
    onRemove: (item, callback) => remove(item, callback),
  };
  const timeline = new vis.Timeline(container, items, options);
  timeline.addCustomTime(lockedUntil(), "lock");
  timers.push(setInterval(() => timeline.setCustomTime(lockedUntil(), "lock"), 1000));

  function say(text, bad) {
    message.replaceChildren(text ? h("div", { class: bad ? "problem" : "muted" }, text) : "");
  }

  async function reload() {
    const start = new Date(serviceNow() - 24 * 3600 * 1000).toISOString();
    const end = new Date(serviceNow() + 48 * 3600 * 1000).toISOString();
    const query = `start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`;
    const [schedule, events] = await Promise.all([
      api("GET", `/channels/${channel.id}/schedule?${query}`),
      api("GET", `/channels/${channel.id}/events?${query}&limit=1000`),
    ]);
    const breaks = new Map(events.items.map((e) => [e.id, e]));
    const lock = lockedUntil();
    const shown = [];
    for (const entry of schedule.items) {
      const locked = entry.start_time < lock;
      const label = h("span", { "data-event": entry.id }, entry.title);
      shown.push({
        id: entry.id,
        content: label,
        start: entry.start_time,
        end: entry.end_time,
        title: `${entry.title}: ${entry.start} to ${entry.end}`,
        className: locked ? "locked" : "program",
        editable: locked || !canWrite() ? false : { updateTime: true, remove: true },
        scheduledStart: entry.scheduled_start_time,
      });
      const event = breaks.get(entry.id);
      for (const [index, ad] of ((event && event.breaks) || []).entries()) {
        const at = entry.start_time + ad.offset_seconds * 1000;
        shown.push({
          id: `${entry.id}-break-${index}`,
          start: at,
          end: at + ad.duration_seconds * 1000,
          type: "background",
          className: "ad-break",
          title: `ad break, ${ad.duration_seconds} s`,
        });
      }
    }
    items.clear();
    items.add(shown);
  }

  function refused(error, retry) {
    if (error.status === 409 && retry) {
      const button = h("button", { type: "button", onclick: retry }, "Replace what is there");
      message.replaceChildren(h("div", { class: "problem" }, error.message, " ", button));
    } else {
      say(error.message, true);
    }
  }

  async function add(item, callback) {
    callback(null); // the grid shows what the API answers, not the dropped guess
    const start = new Date(item.start).toISOString();
    const write = async (replace) => {
      try {
        const made = await api("POST", `/channels/${channel.id}/events`, { asset: item.asset, start, replace });
        say(`Scheduled ${made.title} at ${made.start} (snapped to the segment boundary)`);
      } catch (error) {
        refused(error, replace ? null : () => write(true));
      }
      await reload();
    };
    await write(false);
  }

  async function move(item, callback) {
    callback(null);
    const before = items.get(item.id);
    const body = {};
    if (item.start.valueOf() !== before.start) body.start = new Date(item.start).toISOString();
    if (item.end.valueOf() !== before.end && item.start.valueOf() === before.start) {
      const event = await api("GET", `/channels/${channel.id}/events/${item.id}`);
      const clipIn = event.clip_in_seconds || 0;
      body.clip_out_seconds = clipIn + (item.end - item.start) / 1000;
    }
    try {
      const changed = await api("PATCH", `/channels/${channel.id}/events/${item.id}`, body);
      say(`${changed.title}: ${changed.start} to ${changed.end} (snapped to segment boundaries)`);
    } catch (error) {
      refused(error, null);
    }
    await reload();
  }

  async function remove(item, callback) {
    callback(null);
    try {
      await api("DELETE", `/channels/${channel.id}/events/${item.id}`);
      say("Removed");
    } catch (error) {
      refused(error, null);
    }
    await reload();
  }

  await reload();
  timers.push(setInterval(() => reload().catch(() => {}), 30000));
  container.vchannelTimeline = timeline; // for tests and the browser's console
}

// "a, b, c" -> {assets: [a, b, c]}; "tag:news" -> {tag: "news"}; "" -> null
function collection(text) {
  const value = text.trim();
  if (!value) return null;
  if (value.startsWith("tag:")) return { tag: value.slice(4).trim() };
  return { assets: value.split(",").map((s) => s.trim()).filter(Boolean) };
}

// "20:00 mon,tue tag:news" -> {at: "20:00", days: ["mon", "tue"], play: {tag: "news"}}
function slotSpec(line) {
  const [at, ...rest] = line.split(/\s+/);
  const spec = { at };
  if (rest.length && /^(mon|tue|wed|thu|fri|sat|sun)(,(mon|tue|wed|thu|fri|sat|sun))*$/.test(rest[0])) {
    spec.days = rest.shift().split(",");
  }
  spec.play = collection(rest.join(" ")) || { assets: [] };
  return spec;
}

function describeCollection(play) {
  if (!play) return "the slate";
  return play.tag ? `tag ${play.tag}` : play.assets.join(", ");
}

function describeRule(rule) {
  if (rule.kind !== "slots") return describeCollection(rule.play);
  const slots = rule.slots.map((slot) =>
    `${slot.at}${slot.days.length < 7 ? ` ${slot.days.join(",")}` : ""} ${describeCollection(slot.play)}`);
  return `${slots.join("; ")}; between: ${describeCollection(rule.filler)}`;
}

async function rulesSection(channel) {
  const rules = await api("GET", `/channels/${channel.id}/rules`);
  const list = h("tbody", {}, rules.items.map((rule) => h("tr", {},
    h("td", {}, rule.id), h("td", {}, rule.kind),
    h("td", {}, describeRule(rule)),
    h("td", {}, rule.materialised_until),
    h("td", {}, canWrite() ? [
      h("button", { type: "button", onclick: () => deleteRule(rule, false) }, "Delete with its events"), " ",
      h("button", { type: "button", onclick: () => deleteRule(rule, true) }, "Delete, keep events"),
    ] : null))));
  async function deleteRule(rule, keep) {
    try {
      await api("DELETE", `/channels/${channel.id}/rules/${rule.id}${keep ? "?keep_events=true" : ""}`);
      toast(`Rule ${rule.id} deleted`);
      route();
    } catch (error) {
      toast(error.message, true);
    }
  }
  const kind = h("select", {}, ["loop", "shuffle", "slots"].map((k) => h("option", { value: k }, k)));
  const assets = h("input", { placeholder: "asset ids, comma-separated, or tag:name", size: 40 });
  const slots = h("textarea", { rows: 3, cols: 40, placeholder: "20:00 mon,tue,wed tag:news\n21:30 film-1, film-2" });
  const horizon = h("input", { type: "number", value: "24", min: "1", max: "720" });
  const preview = h("div", { id: "rule-preview" });
  const slotsField = field("rule", "slots", "Slots", slots,
    "one per line: HH:MM (channel time), optional days, then asset ids or tag:name");
  const assetsField = field("rule", "play", "Assets to play", assets);
  function showKind() {
    const isSlots = kind.value === "slots";
    slotsField.hidden = !isSlots;
    assetsField.querySelector("label").textContent = isSlots ? "Filler between slots (empty: the slate)" : "Assets to play";
    assetsField.dataset.field = isSlots ? "filler" : "play";
  }
  kind.addEventListener("change", showKind);
  showKind();
  const form = h("form", { novalidate: true },
    h("div", { class: "form-row" },
      field("rule", "kind", "Kind", kind),
      assetsField,
      field("rule", "horizon_hours", "Horizon (hours)", horizon)),
    slotsField,
    h("div", { class: "form-problem" }),
    h("div", { class: "form-row" },
      h("button", { type: "button", id: "rule-preview-button", onclick: () => submit(true) }, "Preview"),
      h("button", { type: "button", class: "primary", id: "rule-save-button", onclick: () => submit(false) }, "Save rule")),
    preview);
  async function submit(onlyPreview) {
    const body = { kind: kind.value, horizon_hours: Number(horizon.value) };
    const play = collection(assets.value);
    if (kind.value === "slots") {
      body.slots = slots.value.split("\n").map((line) => line.trim()).filter(Boolean).map(slotSpec);
      if (play) body.filler = play;
    } else {
      body.play = play || { assets: [] };
    }
    const path = onlyPreview ? "rule-previews" : "rules";
    try {
      const run = await api("POST", `/channels/${channel.id}/${path}?limit=20`, body);
      if (!onlyPreview) {
        toast(`Rule saved: ${run.created} events created`);
        route();
        return;
      }
      preview.replaceChildren(
        h("p", {}, `${run.created} events would be created; the first ${run.events.length}:`),
        h("table", {}, h("tbody", {}, run.events.map((e) => h("tr", {},
          h("td", {}, e.title), h("td", {}, e.start), h("td", {}, e.end))))));
    } catch (error) {
      showFieldErrors(form, error);
    }
  }
  return h("section", {},
    h("h2", {}, "Rules"),
    rules.items.length ? h("table", {}, h("thead", {}, h("tr", {},
      ...["Rule", "Kind", "Plays", "Filled up to", ""].map((t) => h("th", { scope: "col" }, t)))), list)
      : h("p", {}, "No rules."),
    canWrite() ? form : null);
}

// The hours of an as-run day from the first thing that aired (none before the channel began)
function aired(run) {
  if (!run.items.length) return [];
  const first = Date.parse(run.items[0].start);
  return run.hours.filter((hour) => Date.parse(hour.start) + 3600 * 1000 > first);
}

function asRunSection(channel) {
  const date = h("input", { type: "date", value: localDay(serviceNow(), channel.time_zone) });
  const body = h("div", { id: "as-run" });
  async function show() {
    body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      const run = await api("GET", `/channels/${channel.id}/as-run?date=${date.value}`);
      body.replaceChildren(
        h("p", {}, `Slate: ${run.slate_seconds.toFixed(1)} s this day`),
        h("table", {},
          h("thead", {}, h("tr", {}, ...["Start", "End", "Kind", "Title"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, run.items.map((e) => h("tr", {},
            h("td", {}, e.start), h("td", {}, e.end), h("td", {}, e.kind), h("td", {}, e.title))))),
        h("h2", {}, "Slate seconds per hour"),
        h("table", {}, h("tbody", {}, aired(run).map((hour) => h("tr", {},
          h("td", {}, hour.start), h("td", {}, `${hour.slate_seconds.toFixed(1)} s`))))));
    } catch (error) {
      body.replaceChildren(problemBox(error));
    }
  }
  async function download() {
    const key = sessionStorage.getItem(KEY);
    const response = await fetch(`/channels/${channel.id}/as-run?date=${date.value}&format=csv`, {
      headers: key ? { Authorization: `Bearer ${key}` } : {},
    });
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `${channel.id}-${date.value}.csv` });
    link.click();
  }
  show();
  return h("section", {},
    h("h2", {}, "As-run"),
    h("div", { class: "form-row" }, field("asrun", "date", "Day", date),
      h("button", { type: "button", onclick: show }, "Show"),
      h("button", { type: "button", onclick: download }, "Download CSV")),
    body);
}

// --- library ------------------------------------------------------------------------------
async function libraryView() {
  const results = h("section", { id: "library-results" });
  const editor = h("div", { id: "asset-editor" });
  const search = h("input", { type: "search" });
  let shown = { query: "", offset: 0 };

  async function show(query, offset) {
    shown = { query, offset };
    const page = await api("GET", `/assets?q=${encodeURIComponent(query)}&limit=20&offset=${offset}`);
    const rows = page.items.map((asset) => h("tr", {},
      h("td", {}, asset.id), h("td", {}, asset.title), h("td", {}, `${asset.duration_seconds.toFixed(1)} s`),
      h("td", {}, asset.renditions.map((r) => r.name).join(", ")),
      h("td", {}, asset.genre), h("td", {}, asset.tags.join(", ")),
      h("td", {}, canWrite() ? [
        h("button", { type: "button", onclick: () => reingest(asset) }, "Re-ingest"), " ",
        h("button", { type: "button", onclick: () => edit(asset) }, "Edit"),
      ] : null)));
    const pager = h("div", { class: "form-row" },
      h("span", {}, page.total ? `${page.offset + 1}-${page.offset + page.items.length} of ${page.total}` : "No assets."),
      offset > 0 ? h("button", { type: "button", onclick: () => show(query, Math.max(0, offset - 20)) }, "Previous") : null,
      offset + 20 < page.total ? h("button", { type: "button", onclick: () => show(query, offset + 20) }, "Next") : null);
    results.replaceChildren(
      h("table", {}, h("thead", {}, h("tr", {},
        ...["Id", "Title", "Length", "Renditions", "Genre", "Tags", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows)),
      pager);
  }
  function refresh() {
    return show(shown.query, shown.offset).catch((error) => toast(error.message, true));
  }
  function edit(asset) {
    editor.replaceChildren(assetEditor(asset, () => {
      editor.replaceChildren();
      refresh();
    }));
    editor.querySelector("textarea, input").focus();
  }
  async function reingest(asset) {
    try {
      const done = await api("POST", `/assets/${asset.id}/reingest`);
      toast(`${asset.id}: version ${done.version}`);
      refresh();
    } catch (error) {
      toast(error.message, true);
    }
  }
  await show("", 0);
  view.replaceChildren(
    h("h1", {}, "Library"),
    h("form", { class: "form-row", onsubmit: (event) => { event.preventDefault(); show(search.value, 0); } },
      field("search", "q", "Search", search), h("button", { type: "submit" }, "Search")),
    results,
    editor,
    canWrite() ? ingestForm(refresh) : null);
}

// Guide metadata and tags of one asset (every version); the title changes by re-ingesting.
function assetEditor(asset, done) {
  const inputs = {
    description: h("textarea", { rows: 3, cols: 60 }),
    genre: h("input", {}),
    episode: h("input", {}),
    rating: h("input", {}),
    artwork_url: h("input", { type: "url", size: 50 }),
    tags: h("input", { size: 40 }),
  };
  for (const name of ["description", "genre", "episode", "rating"]) inputs[name].value = asset[name];
  inputs.artwork_url.value = asset.artwork_url || "";
  inputs.tags.value = asset.tags.join(", ");
  const form = h("form", { novalidate: true },
    field("asset", "description", "Description", inputs.description),
    h("div", { class: "form-row" },
      field("asset", "genre", "Genre", inputs.genre),
      field("asset", "episode", "Episode", inputs.episode),
      field("asset", "rating", "Rating", inputs.rating)),
    h("div", { class: "form-row" },
      field("asset", "artwork_url", "Artwork URL", inputs.artwork_url),
      field("asset", "tags", "Tags", inputs.tags, "comma-separated")),
    h("div", { class: "form-problem" }),
    h("div", { class: "form-row" },
      h("button", { class: "primary", type: "submit" }, "Save"),
      h("button", { type: "button", onclick: () => form.parentElement.remove() }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      description: inputs.description.value,
      genre: inputs.genre.value,
      episode: inputs.episode.value,
      rating: inputs.rating.value,
      artwork_url: inputs.artwork_url.value.trim() || null,
      tags: inputs.tags.value.split(",").map((t) => t.trim()).filter(Boolean),
    };
    try {
      await api("PATCH", `/assets/${asset.id}`, body);
      toast(`${asset.id}: guide metadata saved`);
      done();
    } catch (error) {
      showFieldErrors(form, error);
    }
  });
  return h("section", {}, h("h2", {}, `Edit ${asset.title} (${asset.id})`), form);
}

function ingestForm(ingested) {
  const urls = h("textarea", { placeholder: "one URL per line, optionally followed by a title" });
  const progress = h("div", { id: "ingest-progress", "aria-live": "polite" });
  const form = h("form", { novalidate: true },
    field("ingest", "items", "HLS VOD URLs", urls),
    h("div", { class: "form-problem" }),
    h("button", { class: "primary", type: "submit" }, "Ingest"),
    progress);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const items = urls.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
      const [url, ...title] = line.split(/\s+/);
      return { url, title: title.join(" ") || url.split("/").slice(-2, -1)[0] || url };
    });
    try {
      const job = await api("POST", "/ingest-jobs", { items });
      await follow(job.id);
    } catch (error) {
      showFieldErrors(form, error);
    }
  });
  async function follow(jobId) {
    for (;;) {
      const job = await api("GET", `/ingest-jobs/${jobId}`);
      progress.replaceChildren(
        h("p", {}, `${job.state}: ${job.done} done, ${job.failed} refused, of ${job.total}`),
        h("ul", {}, job.items.map((item) => h("li", { class: item.state === "failed" ? "error" : "" },
          `${item.id}: ${item.state}${item.error ? ` (${item.error})` : ""}`))));
      if (job.state !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    ingested();
  }
  return h("section", {}, h("h2", {}, "Ingest"), form);
}

// --- routing ------------------------------------------------------------------------------
async function route() {
  clearTimers();
  const hash = location.hash || "#/channels";
  try {
    if (!service) await loadService();
    updateWho();
    if (hash === "#/signin") signIn();
    else if (hash === "#/library") await libraryView();
    else if (hash.startsWith("#/channel/")) await channelView(decodeURIComponent(hash.slice(10)));
    else await channelsView();
  } catch (error) {
    if (error.status === 401) {
      location.hash = "#/signin";
      toast(error.message, true);
      return;
    }
    view.replaceChildren(h("h1", {}, "Something went wrong"), problemBox(error));
  }
  view.focus();
}

document.getElementById("who").addEventListener("click", () => {
  if (sessionStorage.getItem(KEY)) sessionStorage.removeItem(KEY);
});
window.addEventListener("hashchange", route);
route();
