// Shared helpers for Soirée's pages: the JSON API, DOM building, formatting, announcements.
// No inline scripts or styles anywhere (Sandstorm's strict Content-Security-Policy).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Calls the page API. Requests that change something carry the header only our scripts send.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-Requested-With"] = "soiree";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "the party server is not answering");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    throw new ApiError(response.status, `the party server answered HTTP ${response.status}`);
  }
  if (!response.ok) throw new ApiError(response.status, data.error || `HTTP ${response.status}`);
  return data;
}

// el("td", {class: "x", "data-id": 3}, "text", otherNode): attributes, then children.
export function el(tag, attributes = {}, ...children) {
  const svg = ["svg", "g", "circle", "line", "text", "rect", "title", "path"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Announced to screen readers through the page's polite live region.
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

export function show(node, visible) {
  node.hidden = !visible;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

export function formatRate(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "bytes") return `${formatBytes(value)}/s`;
  return `${value >= 100 ? Math.round(value) : Math.round(value * 10) / 10}/s`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function formatClock(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === new Date().toDateString()) return `today ${time}`;
  return `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

// A button that acts only when pressed twice: the first press asks "…again to confirm".
export function confirmingButton(label, confirmLabel, action, { className = "danger", describe } = {}) {
  let armed = false;
  let timer = 0;
  const button = el("button", { type: "button", class: className, "aria-label": describe }, label);
  const disarm = () => {
    armed = false;
    button.textContent = label;
    button.classList.remove("armed");
    if (describe) button.setAttribute("aria-label", describe);
  };
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.classList.add("armed");
      if (describe) button.setAttribute("aria-label", `${confirmLabel}: ${describe}`);
      announce(`Press again to confirm: ${describe || label}`);
      timer = window.setTimeout(disarm, 5000);
      return;
    }
    window.clearTimeout(timer);
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      disarm();
    }
  });
  return button;
}

// Buttons with data-copy="<input id>" copy that input's text.
export function setUpCopyButtons(root = document) {
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const input = document.getElementById(button.dataset.copy);
    if (!input) return;
    input.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch (error) {
      copied = document.execCommand && document.execCommand("copy");
    }
    button.textContent = copied ? "Copied" : "Select and copy";
    announce(copied ? "Copied to the clipboard" : "The link is selected: copy it with your keyboard");
    window.setTimeout(() => {
      button.textContent = "Copy";
    }, 2500);
  });
}

// Runs `task` now and then every `interval` ms while the page is visible.
export function every(interval, task) {
  let timer = 0;
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await task();
    } finally {
      running = false;
      if (!document.hidden) timer = window.setTimeout(tick, interval);
    }
  };
  document.addEventListener("visibilitychange", () => {
    window.clearTimeout(timer);
    if (!document.hidden) tick();
  });
  tick();
}
