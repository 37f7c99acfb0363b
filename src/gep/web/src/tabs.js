// The panels as an ARIA tab list: arrows move between tabs, Home/End jump, Enter/click opens.
const NAMES = ["search", "insar", "processing", "jobs", "layers", "thematic", "account"];

export function showTab(name) {
  for (const n of NAMES) {
    const tab = document.getElementById(`tab-${n}`);
    const on = n === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    document.getElementById(`panel-${n}`).hidden = !on;
  }
}

export function initTabs() {
  for (const [i, n] of NAMES.entries()) {
    const tab = document.getElementById(`tab-${n}`);
    tab.addEventListener("click", () => showTab(n));
    tab.addEventListener("keydown", (e) => {
      let j = null;
      if (e.key === "ArrowRight") j = (i + 1) % NAMES.length;
      if (e.key === "ArrowLeft") j = (i - 1 + NAMES.length) % NAMES.length;
      if (e.key === "Home") j = 0;
      if (e.key === "End") j = NAMES.length - 1;
      if (j !== null) { e.preventDefault(); showTab(NAMES[j]); document.getElementById(`tab-${NAMES[j]}`).focus(); }
    });
  }
}
