// datawharf backoffice: the few in-place behaviours, in plain JavaScript (no build step, no CDN).
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Copy buttons: <button data-copy-target="id"> copies the text of #id.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_error) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
  const status = document.getElementById(button.dataset.copyStatus || "");
  if (status) status.textContent = "Copied to the clipboard.";
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});

// Forms that ask first: <form data-confirm="Question?">.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Header rows (name, value): add from the <template>, remove a row; focus follows for keyboard users.
let rowCounter = 1000;
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (add) {
    const fieldset = add.closest("[data-header-rows]");
    const template = fieldset.querySelector("template[data-row-template]");
    const html = template.innerHTML.replaceAll("__N__", String(rowCounter++));
    const rows = fieldset.querySelector("[data-rows]");
    rows.insertAdjacentHTML("beforeend", html);
    rows.lastElementChild.querySelector("input").focus();
    return;
  }
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    const fieldset = remove.closest("[data-header-rows]");
    remove.closest("[data-row]").remove();
    fieldset.querySelector("[data-add-row]").focus();
  }
});

// Publish progress: while a run is going, poll the status and move the bar; reload when it ends.
function formatBytes(bytes) {
  if (bytes == null) return "?";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return (unit === 0 ? String(value) : value.toFixed(1)) + " " + units[unit];
}

function watchStatus(card) {
  const badge = card.querySelector("[data-status-badge]");
  const message = card.querySelector("[data-status-message]");
  const box = card.querySelector("[data-progress]");
  const bar = card.querySelector("progress");
  const text = card.querySelector("[data-progress-text]");
  const poll = async () => {
    let status;
    try {
      const response = await fetch(card.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      status = await response.json();
    } catch (_error) {
      setTimeout(poll, 2000);
      return;
    }
    badge.textContent = status.label;
    message.textContent = status.message || "";
    if (status.is_running) {
      box.hidden = false;
      if (status.percent != null) bar.value = status.percent; else bar.removeAttribute("value");
      text.textContent = status.records_done.toLocaleString("en") + " records, " + formatBytes(status.bytes_done) +
        (status.bytes_total ? " of " + formatBytes(status.bytes_total) : "");
      setTimeout(poll, 400);
    } else {
      bar.value = 100;
      window.location.reload();
    }
  };
  poll();
}

// Geo values as a person reads them: a point as "latitude, longitude", a shape as its type, its number
// of points and where it is (the centre of its bounding box), never the GeoJSON text.
function roundCoordinate(value) {
  return String(Math.round(value * 1e5) / 1e5);
}

function geoPositions(coordinates) {
  if (!Array.isArray(coordinates)) return [];
  if (typeof coordinates[0] === "number") return [coordinates];
  return coordinates.flatMap(geoPositions);
}

function geoText(value, type) {
  if (value == null || typeof value !== "object") return value == null ? "" : String(value);
  if (type === "geo_point_2d" && typeof value.lat === "number") {
    return roundCoordinate(value.lat) + ", " + roundCoordinate(value.lon);
  }
  const geometry = value.type === "Feature" ? value.geometry : value;
  if (!geometry || !geometry.type) return JSON.stringify(value);
  const positions = geometry.type === "GeometryCollection"
    ? (geometry.geometries || []).flatMap((part) => geoPositions(part.coordinates))
    : geoPositions(geometry.coordinates);
  if (!positions.length) return geometry.type;
  if (geometry.type === "Point") return roundCoordinate(positions[0][1]) + ", " + roundCoordinate(positions[0][0]);
  const centre = (axis) => {
    const values = positions.map((position) => position[axis]);
    return (Math.min(...values) + Math.max(...values)) / 2;
  };
  return geometry.type + " (" + positions.length + " points) around " + roundCoordinate(centre(1)) + ", " + roundCoordinate(centre(0));
}

// Server-rendered geo cells (the wizard's preview): the GeoJSON the page carries, shown as coordinates.
function formatGeoCells(root) {
  root.querySelectorAll("td[data-geo-type]").forEach((td) => {
    try {
      td.textContent = geoText(JSON.parse(td.textContent), td.dataset.geoType);
    } catch (_error) {
      return; // not JSON: left as it is
    }
    td.removeAttribute("data-geo-type");
  });
}

document.addEventListener("DOMContentLoaded", () => formatGeoCells(document));

// Records: pages of the Explore API, rendered as a table (text only: values never become HTML). The
// header shows each field's label (its technical name under it when they differ), from the fields the
// page embeds; the table scrolls sideways in its own box.
function recordsTable(section) {
  const url = section.dataset.recordsUrl;
  const size = Number(section.dataset.pageSize || 10);
  const table = section.querySelector("[data-records-table]");
  const summary = section.querySelector("[data-records-summary]");
  const prev = section.querySelector("[data-records-prev]");
  const next = section.querySelector("[data-records-next]");
  const fields = new Map(JSON.parse(section.dataset.fields || "[]").map((field) => [field.name, field]));
  let offset = 0;
  const heading = (name) => {
    const th = document.createElement("th");
    th.scope = "col";
    const field = fields.get(name);
    th.textContent = field ? field.label : name;
    if (field && field.label !== name) {
      const tech = document.createElement("span");
      tech.className = "tech";
      tech.textContent = name;
      th.appendChild(tech);
    }
    return th;
  };
  const cell = (name, value) => {
    const td = document.createElement("td");
    const text = document.createElement("span");
    const field = fields.get(name);
    const type = field ? field.type : "";
    if (type === "geo_point_2d" || type === "geo_shape") {
      text.textContent = geoText(value, type);
      td.className = "geo";
    } else {
      text.textContent = value == null ? "" : (typeof value === "object" ? JSON.stringify(value) : String(value));
      if (typeof value === "number") td.className = "num";
    }
    text.title = text.textContent;
    td.appendChild(text);
    return td;
  };
  const load = async () => {
    section.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url + "?limit=" + size + "&offset=" + offset, { headers: { Accept: "application/json" } });
      const body = await response.json();
      if (!response.ok) throw new Error(body.message || String(response.status));
      const rows = body.results || [];
      const names = rows.length ? Object.keys(rows[0]) : [];
      const headRow = document.createElement("tr");
      names.forEach((name) => headRow.appendChild(heading(name)));
      table.tHead.replaceChildren(headRow);
      table.tBodies[0].replaceChildren(...rows.map((row) => {
        const tr = document.createElement("tr");
        names.forEach((name) => tr.appendChild(cell(name, row[name])));
        return tr;
      }));
      const total = body.total_count || 0;
      summary.textContent = total
        ? "Records " + (offset + 1).toLocaleString("en") + "–" + (offset + rows.length).toLocaleString("en") +
          " of " + total.toLocaleString("en")
        : "No record.";
      prev.disabled = offset === 0;
      next.disabled = offset + size >= Math.min(total, 10000);
    } catch (error) {
      summary.textContent = "The records could not be loaded: " + error.message;
    } finally {
      section.removeAttribute("aria-busy");
    }
  };
  prev.addEventListener("click", () => { offset = Math.max(0, offset - size); load(); });
  next.addEventListener("click", () => { offset += size; load(); });
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  const card = document.getElementById("status-card");
  if (card && card.dataset.running === "true") watchStatus(card);
  const records = document.getElementById("records");
  if (records) recordsTable(records);
});

// Wizard, connection step: the new-connection fields only when "New connection" is chosen (a disabled
// fieldset is neither validated nor sent).
document.addEventListener("change", (event) => {
  const form = event.target.closest("[data-connection-choice]");
  if (!form || event.target.name !== "connection") return;
  const fieldset = form.querySelector("[data-new-connection]");
  const isNew = event.target.value === "new";
  fieldset.hidden = !isNew;
  fieldset.disabled = !isNew;
});

// Wizard, preview step: a change in the source configuration re-previews in place. The preview reads the
// file with the connection's secrets, so it is a POST with the CSRF token (the form carries it).
let previewRequest = 0;
document.addEventListener("change", async (event) => {
  const form = event.target.closest("[data-source-config]");
  if (!form) return;
  const workspace = document.getElementById("workspace");
  const data = new FormData(form);
  if (event.target.matches("[data-extractor-select]")) {
    // Another format: its own parameters, guessed again.
    for (const key of Array.from(data.keys())) if (key.startsWith("p.")) data.delete(key);
  }
  data.set("fragment", "true");
  const focusedId = document.activeElement && document.activeElement.id;
  const ticket = ++previewRequest;
  workspace.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { Accept: "text/html", "X-CSRF-Token": csrfToken() },
    });
    const html = await response.text();
    if (ticket !== previewRequest) return; // a newer change already asked again
    workspace.innerHTML = html;
    formatGeoCells(workspace);
    const panel = workspace.querySelector("[data-workspace]");
    const next = document.getElementById("preview-next");
    if (panel && next) {
      next.querySelector("[data-next-type]").value = panel.dataset.extractor;
      next.querySelector("[data-next-params]").value = panel.dataset.params;
      next.querySelector("[data-next-button]").disabled = panel.dataset.ok !== "true";
    }
    if (focusedId) {
      const again = document.getElementById(focusedId);
      if (again) again.focus();
    }
  } finally {
    if (ticket === previewRequest) workspace.removeAttribute("aria-busy");
  }
});

// The preview page is the answer to a POST: its address becomes the prefilled connection-and-file form,
// so a reload shows that form (reads nothing) instead of posting again (which would save a new
// connection twice).
document.addEventListener("DOMContentLoaded", () => {
  const workspace = document.getElementById("workspace");
  if (workspace && workspace.dataset.backUrl) window.history.replaceState(null, "", workspace.dataset.backUrl);
});

// Wizard, dataset information: the identifier follows the title as it is typed (the server makes it,
// with the same rule as the API), until the person edits it; each value is checked (format, taken).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-dataset-information]");
  if (!form) return;
  const title = form.querySelector("#title");
  const identifier = form.querySelector("#dataset_id");
  const check = form.querySelector("[data-identifier-check]");
  let edited = identifier.value !== "";
  let timer = null;
  let ticket = 0;
  const refresh = async () => {
    const query = new URLSearchParams({ title: title.value, dataset_id: edited ? identifier.value : "" });
    const mine = ++ticket;
    const response = await fetch(form.dataset.identifierUrl + "?" + query.toString());
    const answer = await response.json();
    if (mine !== ticket) return;
    if (!edited) identifier.value = answer.suggestion;
    check.textContent = answer.ok ? "“" + answer.dataset_id + "” is available." : answer.problem;
    check.className = "hint " + (answer.ok ? "ok" : "bad");
    identifier.setAttribute("aria-invalid", answer.ok ? "false" : "true");
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 120); };
  title.addEventListener("input", soon);
  identifier.addEventListener("input", () => { edited = identifier.value !== ""; soon(); });
  if (title.value || identifier.value) refresh();
});

// A confirmation (?saved=...) is shown once: the address loses it, so a reload or a bookmark does not
// confirm the change again.
document.addEventListener("DOMContentLoaded", () => {
  const url = new URL(window.location.href);
  if (!url.searchParams.has("saved")) return;
  url.searchParams.delete("saved");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
});
