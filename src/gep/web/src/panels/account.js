// Sign in (password, or the configured OpenID Connect provider), who I am, my credits and
// usage, sign out.
import { api, errorText } from "../api.js";
import { el, emit, state, toast } from "../state.js";

const panel = () => document.getElementById("panel-account");

export async function initAccount() {
  await loadMe();
  render();
}

export async function loadMe() {
  try { state.me = await api("/accounts/me"); } catch { state.me = null; }
  document.getElementById("who").textContent = state.me ? `Signed in as ${state.me.name}` : "Not signed in";
  return state.me;
}

function render() {
  const p = panel();
  if (!state.me) {
    p.replaceChildren(
      el("h2", { text: "Sign in" }),
      el("form", { id: "login-form", onsubmit: login },
        el("label", { for: "login-user", text: "User name" }), el("input", { id: "login-user", type: "text", autocomplete: "username", required: true }),
        el("label", { for: "login-password", text: "Password" }), el("input", { id: "login-password", type: "password", autocomplete: "current-password", required: true }),
        el("p", {}, el("button", { type: "submit", class: "primary", text: "Sign in" })),
        el("p", { id: "login-error", class: "error", role: "alert" })),
      state.config.oidc ? el("p", {}, el("a", { href: `../accounts/oidc/login?next=${encodeURIComponent(location.pathname + location.hash)}`, text: "Sign in with your organisation (OpenID Connect)" })) : null,
      el("p", { class: "muted", text: "Without signing in you see what is public." }),
    );
    return;
  }
  const c = state.me.credits || {};
  p.replaceChildren(
    el("h2", { text: state.me.name }),
    el("p", { text: `Role: ${state.me.role}${state.me.groups?.length ? ` · groups: ${state.me.groups.join(", ")}` : ""}` }),
    el("h3", { text: "Credits" }),
    el("table", { id: "credits" }, el("tbody", {},
      el("tr", {}, el("th", { scope: "row", text: "Available" }), el("td", { text: c.available ?? "—" })),
      el("tr", {}, el("th", { scope: "row", text: "Balance" }), el("td", { text: c.balance ?? "—" })),
      el("tr", {}, el("th", { scope: "row", text: "Held by running jobs" }), el("td", { text: c.held ?? "—" })),
      el("tr", {}, el("th", { scope: "row", text: `Allowance left (${c.allowance_period || ""})` }), el("td", { text: c.allowance_left ?? "—" })))),
    el("h3", { text: "Usage" }),
    el("div", { id: "usage" }, el("p", { class: "muted", text: "Loading…" })),
    el("p", {}, el("button", { type: "button", text: "Sign out", onclick: logout })),
  );
  api("/accounts/usage").then((u) => {
    const rows = u.usage || [];
    document.getElementById("usage").replaceChildren(rows.length
      ? el("table", {}, el("thead", {}, el("tr", {}, ...Object.keys(rows[0]).map((k) => el("th", { scope: "col", text: k })))),
        el("tbody", {}, ...rows.slice(0, 20).map((r) => el("tr", {}, ...Object.values(r).map((v) => el("td", { text: typeof v === "object" ? JSON.stringify(v) : String(v) }))))))
      : el("p", { class: "muted", text: "No usage yet." }));
  }).catch((e) => { document.getElementById("usage").textContent = errorText(e); });
}

async function login(e) {
  e.preventDefault();
  try {
    await api("/accounts/login", { method: "POST", body: { username: document.getElementById("login-user").value, password: document.getElementById("login-password").value } });
    await loadMe();
    render();
    toast(`Welcome, ${state.me.name}`);
    emit("signed-in", state.me);
  } catch (err) { document.getElementById("login-error").textContent = errorText(err); }
}

async function logout() {
  try { await api("/accounts/logout", { method: "POST" }); } catch { /* the cookie goes anyway */ }
  state.me = null;
  document.getElementById("who").textContent = "Not signed in";
  render();
  emit("signed-in", null);
}
