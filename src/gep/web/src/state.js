// What the panels share: the search area, the basket (kept across searches and reloads), the
// signed-in user, and a small event bus so that panels never call each other directly.
const listeners = new Map();

export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
}

export function emit(event, detail) {
  for (const fn of listeners.get(event) || []) {
    try { fn(detail); } catch (e) { console.error(event, e); }
  }
}

export const state = {
  area: null, // a GeoJSON geometry
  me: null, // /accounts/me, or null when anonymous
  config: {},
  appServices: [], // the ids of the opened thematic app's services, listed first
  basket: new Map(JSON.parse(localStorage.getItem("gep.basket") || "[]")),
};

export function setArea(geometry, label) {
  state.area = geometry;
  emit("area", { geometry, label });
}

export function basketAdd(item) {
  state.basket.set(`${item.collection}/${item.id}`, slim(item));
  saveBasket();
}

export function basketRemove(key) {
  state.basket.delete(key);
  saveBasket();
}

function saveBasket() {
  localStorage.setItem("gep.basket", JSON.stringify([...state.basket]));
  emit("basket", state.basket);
}

// what the basket keeps of an item: enough to list it, draw it and fill a form with it
export function slim(item) {
  return {
    id: item.id,
    collection: item.collection,
    geometry: item.geometry,
    bbox: item.bbox,
    properties: {
      datetime: item.properties.datetime || item.properties.start_datetime,
      title: item.properties.title,
      platform: item.properties.platform,
      "sat:relative_orbit": item.properties["sat:relative_orbit"],
      "sat:orbit_state": item.properties["sat:orbit_state"],
    },
  };
}

export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 4000);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function itemKey(item) {
  return `${item.collection}/${item.id}`;
}

// an href from a record (an item's asset, a link) as a link target: http(s) only, so that a
// "javascript:" href someone catalogued can never run in a user's page
export function safeHref(href) {
  try {
    const url = new URL(href, document.baseURI);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch { return null; }
}
