// The map: GEP's own offline basemap (Natural Earth land and borders, built into basemap/),
// the operator's online basemap when one is configured, the search footprints (one GeoJSON
// source drawn by WebGL: 10 000 footprints pan smoothly), the drawn area, and the result
// layers (raster tiles from the API's renders, vectors from its features).
import { Map as MapLibre, NavigationControl, ScaleControl, AttributionControl, Popup } from "maplibre-gl";
import { emit, state } from "./state.js";

const EMPTY = { type: "FeatureCollection", features: [] };
const DETAIL_ZOOM = 3;
const CLUSTER_ZOOM = 4;
const CLUSTER_ABOVE = 1000;
export let map = null;

export function basemapStyle() {
  const sources = {
    land: { type: "geojson", data: "basemap/land-110m.geojson", attribution: "Natural Earth" },
    borders: { type: "geojson", data: "basemap/borders-110m.geojson" },
  };
  const layers = [
    { id: "sea", type: "background", paint: { "background-color": "#cfe3f0" } },
    { id: "land", type: "fill", source: "land", paint: { "fill-color": "#f3f1ea" } },
    { id: "coast", type: "line", source: "land", paint: { "line-color": "#7a8fa3", "line-width": 0.6 } },
    { id: "borders", type: "line", source: "borders", paint: { "line-color": "#9a8f9a", "line-width": 0.6, "line-dasharray": [3, 2] } },
  ];
  return { version: 8, sources, layers };
}

// the operator's online basemap, once /ui/config.json has said which (the map does not wait
// for it: it starts on the offline basemap); hidden until the user asks for it
export function addOnlineBasemap(online) {
  if (!online || map.getSource("online")) return;
  map.addSource("online", { type: "raster", tiles: [online.url], tileSize: 256, attribution: online.attribution });
  map.addLayer({ id: "online", type: "raster", source: "online", layout: { visibility: "none" } }, "coast");
}

export function createMap(container, view) {
  map = new MapLibre({
    container,
    style: basemapStyle(),
    center: view ? [view.lon, view.lat] : [12.5, 42.0],
    zoom: view ? view.zoom : 4,
    attributionControl: false,
    canvasContextAttributes: { preserveDrawingBuffer: true },
    fadeDuration: 0,
    // one world: no copies east and west of ±180° to draw (10 000 footprints at world view)
    renderWorldCopies: false,
  });
  map.addControl(new NavigationControl({ visualizePitch: false }), "top-right");
  map.addControl(new ScaleControl(), "bottom-left");
  map.addControl(new AttributionControl({ compact: true }), "bottom-right");
  map.on("load", () => {
    map.addSource("footprints", { type: "geojson", data: EMPTY, promoteId: "key" });
    map.addLayer({
      id: "footprints-fill", type: "fill", source: "footprints",
      paint: {
        "fill-antialias": false, // the outline layer draws the edges: one pass, not two
        "fill-color": ["case", ["boolean", ["feature-state", "selected"], false], "#1d4e89", "#3b82c4"],
        "fill-opacity": ["case", ["boolean", ["feature-state", "hover"], false], 0.45,
          ["boolean", ["feature-state", "selected"], false], 0.35, 0.08],
      },
    });
    map.addLayer({
      id: "footprints-line", type: "line", source: "footprints",
      paint: {
        "line-color": ["case", ["boolean", ["feature-state", "hover"], false], "#e07b00", "#1d4e89"],
        "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 2.5, 1],
      },
    });
    // many footprints seen from afar: their centres, clustered (one circle per crowd, sized by
    // its count), below zoom CLUSTER_ZOOM; the polygons from there on
    map.addSource("footprint-centres", { type: "geojson", data: EMPTY, cluster: true, clusterMaxZoom: CLUSTER_ZOOM - 1, clusterRadius: 36 });
    map.addLayer({
      id: "footprint-clusters", type: "circle", source: "footprint-centres", maxzoom: CLUSTER_ZOOM,
      paint: {
        "circle-color": "#1d4e89", "circle-opacity": 0.55, "circle-stroke-color": "#fff", "circle-stroke-width": 1,
        "circle-radius": ["interpolate", ["linear"], ["coalesce", ["get", "point_count"], 1], 1, 3, 100, 10, 1000, 18, 10000, 28],
      },
    });
    map.on("click", "footprint-clusters", async (e) => {
      const f = e.features[0];
      if (!f.properties.cluster_id) return;
      const zoom = await map.getSource("footprint-centres").getClusterExpansionZoom(f.properties.cluster_id);
      map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(zoom, map.getZoom() + 1), duration: 0 });
    });
    map.addSource("area", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "area-fill", type: "fill", source: "area", paint: { "fill-color": "#f6c85f", "fill-opacity": 0.15 } });
    map.addLayer({ id: "area-line", type: "line", source: "area", paint: { "line-color": "#c28a00", "line-width": 2 } });
    map.addLayer({ id: "area-point", type: "circle", source: "area", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 6, "circle-color": "#c28a00" } });
    wireFootprints();
    emit("map-ready", map);
    // 1:50m coastlines and borders from zoom 3 (once: they serve every zoom after)
    const detail = () => {
      if (map.getZoom() < DETAIL_ZOOM) return;
      map.off("zoomend", detail);
      map.getSource("land").setData("basemap/land.geojson");
      map.getSource("borders").setData("basemap/borders.geojson");
    };
    map.on("zoomend", detail);
    detail();
  });
  return map;
}

// the DEMs GEP holds, shaded (the tiles' hillshade algorithm) under the basemap's lines, from
// zoom 8 where the relief reads: the offline basemap gains relief where a DEM item exists
export function addHillshade(item, asset, tileBase) {
  const id = `hillshade-${item.id}`;
  if (map.getSource(id)) return;
  const [w, s, e, n] = item.bbox;
  map.addSource(id, {
    type: "raster", tileSize: 256, bounds: [w, s, e, n], minzoom: 8, attribution: "GEP DEM",
    tiles: [`${tileBase}{z}/{x}/{y}.png?assets=${encodeURIComponent(asset)}&algorithm=hillshade&buffer=3`],
  });
  map.addLayer({ id, type: "raster", source: id, minzoom: 8, paint: { "raster-opacity": 0.35, "raster-fade-duration": 0 } }, "coast");
}

export function setOnlineBasemap(visible) {
  if (map.getLayer("online")) map.setLayoutProperty("online", "visibility", visible ? "visible" : "none");
}

export function showArea(geometry) {
  const src = map.getSource("area");
  if (src) src.setData(geometry ? { type: "Feature", geometry, properties: {} } : EMPTY);
}

// footprints: the features carry "key" = collection/id (the feature-state id)
let hovered = null;
const selected = new Set();

export function setFootprints(features) {
  const src = map.getSource("footprints");
  for (const k of selected) map.setFeatureState({ source: "footprints", id: k }, { selected: false });
  selected.clear();
  if (!src) return;
  src.setData({ type: "FeatureCollection", features });
  const crowd = features.length > CLUSTER_ABOVE;
  map.getSource("footprint-centres").setData(crowd ? { type: "FeatureCollection", features: features.map(centre) } : EMPTY);
  for (const id of ["footprints-fill", "footprints-line"]) map.setLayerZoomRange(id, crowd ? CLUSTER_ZOOM : 0, 24);
}

function centre(f) {
  let x = 0, y = 0, n = 0;
  const walk = (c) => { if (typeof c[0] === "number") { x += c[0]; y += c[1]; n += 1; } else c.forEach(walk); };
  walk(f.geometry.coordinates);
  return { type: "Feature", geometry: { type: "Point", coordinates: [x / n, y / n] }, properties: { key: f.properties.key } };
}

export function hoverFootprint(key) {
  if (hovered) map.setFeatureState({ source: "footprints", id: hovered }, { hover: false });
  hovered = key;
  if (key) map.setFeatureState({ source: "footprints", id: key }, { hover: true });
}

export function selectFootprint(key, on) {
  if (on) selected.add(key); else selected.delete(key);
  map.setFeatureState({ source: "footprints", id: key }, { selected: on });
}

function wireFootprints() {
  map.on("mousemove", "footprints-fill", (e) => {
    if (state.drawing) return;
    const key = e.features[0]?.properties.key;
    if (key !== hovered) { hoverFootprint(key); emit("footprint-hover", key); }
    map.getCanvas().style.cursor = "pointer";
  });
  map.on("mouseleave", "footprints-fill", () => {
    hoverFootprint(null);
    emit("footprint-hover", null);
    map.getCanvas().style.cursor = "";
  });
  map.on("click", (e) => {
    if (state.drawing) return;
    const hits = map.queryRenderedFeatures(e.point, { layers: ["footprints-fill"] });
    if (hits.length) emit("footprint-click", hits[0].properties.key);
    emit("map-click", e.lngLat);
  });
}

export function fitBbox(bbox, options = {}) {
  if (!bbox) return;
  const [w, s, e, n] = bbox.length === 6 ? [bbox[0], bbox[1], bbox[3], bbox[4]] : bbox;
  map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 12, duration: 0, ...options });
}

export function popup(lngLat, node) {
  return new Popup({ closeButton: true, maxWidth: "300px" }).setLngLat(lngLat).setDOMContent(node).addTo(map);
}
