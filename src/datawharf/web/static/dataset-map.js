// datawharf backoffice, dataset page: the map of the records' geo field (Leaflet, vendored under
// vendor/leaflet/). The records come from one GeoJSON export of the chosen field (at most data-limit of
// them), so a point and a shape are drawn exactly as the Explore API gives them. Without a tile server
// (DATAWHARF_MAP_TILES_URL) the map is a plain grid of latitudes and longitudes: it works offline.
// Records are SVG paths (circle markers for points), which a test counts.
"use strict";

// Grid steps in degrees, finest last: the one that gives a handful of lines over the records' extent.
const GRID_STEPS = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];

function gridStep(bounds) {
  const span = Math.max(bounds.getNorth() - bounds.getSouth(), bounds.getEast() - bounds.getWest());
  return GRID_STEPS.find((step) => span / step >= 3) || GRID_STEPS[GRID_STEPS.length - 1];
}

// The outline drawn instead of tiles: meridians and parallels every `gridStep` degrees over what the map
// shows, drawn again after each move or zoom. Not interactive, so only the records are
// `.leaflet-interactive` paths.
function drawGrid(map) {
  const view = map.getBounds();
  const step = gridStep(view);
  const south = Math.max(-85, Math.floor(view.getSouth() / step) * step);
  const north = Math.min(85, Math.ceil(view.getNorth() / step) * step);
  const west = Math.max(-180, Math.floor(view.getWest() / step) * step);
  const east = Math.min(180, Math.ceil(view.getEast() / step) * step);
  const lines = [];
  for (let lon = west; lon <= east + step / 2; lon += step) lines.push([[south, lon], [north, lon]]);
  for (let lat = south; lat <= north + step / 2; lat += step) lines.push([[lat, west], [lat, east]]);
  return L.polyline(lines, { color: "#c9d1db", weight: 1, interactive: false, className: "map-grid" }).addTo(map);
}

// An address streams few exports at once (DATAWHARF_EXPORT_PER_CLIENT): when a download of the same
// person holds the slot (429 too_many_exports), wait for it a little instead of failing the map.
async function exportWithRetry(url) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, { headers: { Accept: "application/geo+json" } });
    if (response.status !== 429 || attempt === 4) return response;
    await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
  }
}

function recordsMap(card) {
  const container = card.querySelector("[data-map]");
  const picker = card.querySelector("[data-map-field]");
  const summary = card.querySelector("[data-map-summary]");
  const limit = Number(card.dataset.limit || 2000);
  const map = L.map(container, { preferCanvas: false, worldCopyJump: false, attributionControl: true });
  map.attributionControl.setPrefix(false);
  if (card.dataset.tilesUrl) {
    // Leaflet writes an attribution as HTML: the setting is text, so it goes in escaped.
    const credit = document.createElement("span");
    credit.textContent = card.dataset.tilesAttribution || "";
    L.tileLayer(card.dataset.tilesUrl, { attribution: credit.innerHTML, maxZoom: 19 }).addTo(map);
  } else {
    container.classList.add("no-tiles");
  }
  let drawn = null;
  let grid = null;
  let ticket = 0;
  if (!card.dataset.tilesUrl) {
    map.on("moveend", () => {
      if (grid) grid.remove();
      grid = drawGrid(map);
    });
  }
  map.setView([20, 0], 1);
  L.control.scale({ imperial: false }).addTo(map);
  // A narrower or wider page (a phone turned, a window resized): Leaflet measures its box again.
  new ResizeObserver(() => map.invalidateSize()).observe(container);

  const load = async () => {
    const field = picker.value;
    const mine = ++ticket;
    card.setAttribute("aria-busy", "true");
    summary.textContent = "Loading the map…";
    const labelField = card.dataset.labelField;
    const select = "`" + field + "`" + (labelField ? ", `" + labelField + "`" : "");
    const query = new URLSearchParams({ select, where: "`" + field + "` is not null", limit: String(limit) });
    try {
      const response = await exportWithRetry(card.dataset.exportsUrl + "/geojson?" + query.toString());
      const body = await response.json();
      if (!response.ok) throw new Error(body.message || String(response.status));
      if (mine !== ticket) return;
      if (drawn) drawn.remove();
      const features = (body.features || []).filter((feature) => feature.geometry);
      drawn = L.geoJSON(features, {
        pointToLayer: (_feature, latlng) => L.circleMarker(latlng, { radius: 5, weight: 1, color: "#14213d", fillColor: "#1f5fbf", fillOpacity: 0.8 }),
        style: () => ({ color: "#1f5fbf", weight: 2, fillOpacity: 0.25 }),
        // The record's name on hover or focus; an element, not a string, which Leaflet would take as HTML.
        onEachFeature: (feature, layer) => {
          const name = labelField ? feature.properties[labelField] : null;
          if (name == null || name === "") return;
          const tip = document.createElement("span");
          tip.textContent = String(name);
          layer.bindTooltip(tip);
        },
      }).addTo(map);
      const bounds = drawn.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds.pad(0.1), { maxZoom: 16, animate: false });
      container.dataset.features = String(features.length);
      summary.textContent = features.length
        ? features.length.toLocaleString("en") + (features.length === 1 ? " record" : " records") + " drawn" +
          (features.length >= limit ? " (the first " + limit.toLocaleString("en") + ")" : "") + "."
        : "No record has a value in this field.";
    } catch (error) {
      if (mine === ticket) summary.textContent = "The map could not be loaded: " + error.message;
    } finally {
      if (mine === ticket) card.removeAttribute("aria-busy");
    }
  };
  picker.addEventListener("change", load);
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  const card = document.getElementById("map-card");
  if (card && window.L) recordsMap(card);
});
