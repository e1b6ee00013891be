// The host's dashboard: invitations, the party live (rooms, members, the map, objects),
// moderation, traffic and health. Data comes from /app/api/*, which checks the host's permission.

import {
  announce,
  api,
  confirmingButton,
  el,
  every,
  formatBytes,
  formatClock,
  formatDate,
  formatDuration,
  formatRate,
  setUpCopyButtons,
  show,
} from "./common.js";
import { drawChart } from "./chart.js";
import { RoomMap, memberColour, swatch } from "./map.js";

const $ = (id) => document.getElementById(id);
const mode = document.body.dataset.mode;
const SPAN = 300; // seconds of traffic shown
const RULES = ["ask", "deny", "allow"];

const state = {
  rooms: [],
  selected: null,
  history: [],
  stats: null,
  summary: "",
};

// Shown at the top while the page cannot reach the party server or the relay.
function banner(text) {
  const node = $("connection");
  if ((node.textContent || null) !== text) node.textContent = text || "";
  show(node, Boolean(text));
}

function fail(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  show(node, Boolean(error));
}

// Keeps one <tr> per key in a table body, in order: rows (and the controls in them) survive
// refreshes, so a focused button or an open menu is not swept away every second.
function syncRows(tbody, items, key, create, update) {
  const existing = new Map([...tbody.children].map((row) => [row.dataset.key, row]));
  let previous = null;
  for (const item of items) {
    const id = String(key(item));
    let row = existing.get(id);
    if (row) existing.delete(id);
    else {
      row = create(item);
      row.dataset.key = id;
    }
    update(row, item);
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (row !== expected) tbody.insertBefore(row, expected);
    previous = row;
  }
  for (const row of existing.values()) row.remove();
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Inviting players

function petnameFor(name) {
  const nonce = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const when = new Date().toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return { nonce, petname: `${name} (player, ${when}, ${nonce})` };
}

function setUpSandstormInvites() {
  const form = $("invite-form");
  const input = $("invite-name");
  const error = $("invite-error");
  const results = $("invite-results");
  const pending = new Map();

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data || !pending.has(event.data.rpcId)) return;
    const { name, timer } = pending.get(event.data.rpcId);
    pending.delete(event.data.rpcId);
    window.clearTimeout(timer);
    if (event.data.error || !event.data.uri) {
      fail(error, new Error(`Sandstorm could not make the key: ${event.data.error || "no answer"}`));
      return;
    }
    const item = el(
      "li",
      { class: "invite-result" },
      el("p", {}, "Send this to ", el("strong", {}, name), ". They paste it whole into their client:"),
      el("iframe", { class: "offer", src: event.data.uri, title: `The key for ${name}, with a copy button` }),
    );
    results.prepend(item);
    announce(`A key for ${name} is ready to copy.`);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    fail(error, null);
    const name = input.value.trim();
    if (!name) return;
    if (window.parent === window) {
      fail(error, new Error("Keys are made by Sandstorm: open this dashboard inside its grain."));
      return;
    }
    const { nonce, petname } = petnameFor(name);
    const rpcId = `soiree-invite-${nonce}`;
    const timer = window.setTimeout(() => {
      pending.delete(rpcId);
      fail(
        error,
        new Error("Sandstorm did not answer. You can also make a key with the key icon in Sandstorm's top bar (choose the player role)."),
      );
    }, 15000);
    pending.set(rpcId, { name, timer });
    window.parent.postMessage(
      {
        renderTemplate: {
          rpcId,
          // What the player pastes: the grain's API host and the token, as a Sandstorm webkey.
          template: `${window.location.protocol}//$API_HOST#$API_TOKEN`,
          petname,
          roleAssignment: { roleId: Number(form.dataset.roleId) },
          forSharing: true,
          clipboardButton: "left",
        },
      },
      "*",
    );
    input.value = "";
  });
}

function setUpStandaloneInvites() {
  const form = $("invite-form");
  const input = $("invite-name");
  const error = $("invite-error");
  const list = $("invites");

  function revokeButton(invite, label) {
    return confirmingButton(
      "Revoke",
      "Revoke: sure?",
      async () => {
        try {
          await api(`/app/api/invites/${invite.id}`, { method: "DELETE" });
          announce(`The invite link for ${label} is revoked.`);
        } catch (problem) {
          fail(error, problem);
        }
        await refresh();
      },
      { describe: `Revoke the invite link for ${label}` },
    );
  }

  async function refresh() {
    let data;
    try {
      data = await api("/app/api/invites");
    } catch (problem) {
      fail(error, problem);
      return;
    }
    show($("invites-empty"), data.invites.length === 0);
    syncRows(
      list,
      data.invites,
      (invite) => invite.id,
      (invite) => {
        const linkId = `invite-link-${invite.id}`;
        const label = invite.label || "(no name)";
        return el(
          "li",
          { class: "invite", "data-invite": invite.id },
          el(
            "div",
            { class: "invite-head" },
            el("strong", {}, label),
            el("span", { class: "pill" }),
            el("span", { class: "hint" }),
          ),
          el(
            "div",
            { class: "copy-row" },
            el("input", { id: linkId, readonly: true, value: invite.link, "aria-label": `Invite link for ${label}` }),
            el("button", { type: "button", class: "secondary", "data-copy": linkId }, "Copy"),
            el("span", { class: "revoke" }),
          ),
        );
      },
      (item, invite) => {
        const label = invite.label || "(no name)";
        const pill = item.querySelector(".pill");
        setText(pill, invite.revoked ? "revoked" : invite.redeemed_by ? "in use" : "not used yet");
        pill.className = `pill ${invite.revoked ? "off" : invite.redeemed_by ? "on" : ""}`;
        const used = invite.redeemed_by ? ` · joined as ${invite.redeemed_by.display_name}` : "";
        setText(item.querySelector(".hint"), `created ${formatDate(invite.created_at)}${used}`);
        item.classList.toggle("revoked", invite.revoked);
        const revoke = item.querySelector(".revoke");
        if (invite.revoked) revoke.replaceChildren();
        else if (!revoke.firstChild) revoke.append(revokeButton(invite, label));
      },
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fail(error, null);
    const label = input.value.trim();
    if (!label) return;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await api("/app/api/invites", { method: "POST", body: { label } });
      $("invite-new-name").textContent = data.invite.label || "your friend";
      $("invite-new-link").value = data.invite.link;
      show($("invite-new"), true);
      $("invite-new-link").select();
      announce(`Invite link for ${label} created. It is selected, ready to copy.`);
      input.value = "";
      await refresh();
    } catch (problem) {
      fail(error, problem);
    } finally {
      button.disabled = false;
    }
  });
  every(15000, refresh);
}

// ---------------------------------------------------------------------------------------------
// The party, live

const map = new RoomMap($("map"), { onSelect: selectObject });

function selectObject(id) {
  map.highlight(id);
  const row = $("objects").tBodies[0].querySelector(`tr[data-object="${id}"]`);
  if (!row) return;
  for (const other of row.parentElement.children) other.classList.toggle("selected", other === row);
  row.scrollIntoView({ block: "nearest" });
  row.querySelector("select").focus();
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function renderRooms(rooms) {
  state.rooms = rooms;
  const members = new Set(rooms.flatMap((room) => room.members.map((m) => m.id)));
  const objects = rooms.reduce((sum, room) => sum + room.objects.length, 0);
  const summary = rooms.length
    ? `${plural(members.size, "player")} · ${plural(rooms.length, "room")} · ${plural(objects, "object")}`
    : "Nobody is here yet";
  setText($("party-summary"), summary);
  show($("party-empty"), rooms.length === 0);
  show($("room-panel"), rooms.length > 0);
  if (!rooms.length) return;

  const select = $("room-select");
  const names = rooms.map((room) => room.name);
  if (!names.includes(state.selected)) state.selected = names[0];
  syncRows(
    select,
    rooms,
    (room) => room.name,
    (room) => el("option", { value: room.name }),
    (option, room) => setText(option, `${room.name} (${plural(room.members.length, "player")})`),
  );
  if (select.value !== state.selected) select.value = state.selected;
  renderRoom(rooms.find((room) => room.name === state.selected));
}

function renderRoom(room) {
  // Players with the same name (in a grain, everyone whose client gave no name with a shared key
  // is "Anonymous User") are told apart by their member number.
  const counts = new Map();
  for (const m of room.members) counts.set(m.name, (counts.get(m.name) || 0) + 1);
  const names = new Map(room.members.map((m) => [m.id, counts.get(m.name) > 1 ? `${m.name} #${m.id}` : m.name]));
  map.render(room, names);
  const nameOf = (id) => (id ? names.get(id) || `member ${id}` : "nobody");

  show($("members-empty"), room.members.length === 0);
  syncRows(
    $("members").tBodies[0],
    room.members,
    (member) => `${room.name}:${member.id}`,
    (member) =>
      el(
        "tr",
        { "data-member": member.id },
        el("th", { scope: "row", class: "who" }, swatch(member.id), el("span", { class: "name" }), el("span", { class: "tag" })),
        el("td", { class: "latency" }),
        el("td", { class: "since" }),
        el(
          "td",
          { class: "actions" },
          confirmingButton(
            "Kick",
            "Kick: sure?",
            () => kick(room.name, member.id, member.name),
            { describe: `Kick ${member.name} out of the party` },
          ),
        ),
      ),
    (row, member) => {
      setText(row.querySelector(".name"), names.get(member.id));
      setText(row.querySelector(".tag"), member.connected ? "" : "reconnecting");
      setText(row.querySelector(".latency"), member.latency_ms === null ? "measuring…" : `${Math.round(member.latency_ms)} ms`);
      const since = row.querySelector(".since");
      setText(since, `${formatClock(member.connected_since)} (${formatDuration(Date.now() / 1000 - member.connected_since)})`);
    },
  );

  show($("objects-empty"), room.objects.length === 0);
  syncRows(
    $("objects").tBodies[0],
    room.objects,
    (object) => `${room.name}:${object.id}`,
    (object) => {
      const selectId = `rule-${room.name}-${object.id}`;
      const rule = el(
        "select",
        { id: selectId, "data-object": object.id },
        RULES.map((r) => el("option", { value: r }, r[0].toUpperCase() + r.slice(1))),
      );
      rule.addEventListener("change", () => setRule(room.name, object.id, rule));
      return el(
        "tr",
        { "data-object": object.id },
        el("th", { scope: "row" }, `#${object.id}`),
        el("td", { class: "owner" }),
        el("td", { class: "master" }),
        el("td", { class: "position" }),
        el("td", {}, el("label", { class: "visually-hidden", for: selectId }, `Rule for object ${object.id}`), rule),
      );
    },
    (row, object) => {
      const owner = row.querySelector(".owner");
      const master = row.querySelector(".master");
      for (const [cell, member] of [
        [owner, object.owner],
        [master, object.master],
      ]) {
        const shown = `${member}:${nameOf(member)}`;
        if (cell.dataset.shown !== shown) {
          cell.dataset.shown = shown;
          cell.replaceChildren(swatch(member), nameOf(member));
        }
      }
      const p = object.position;
      setText(row.querySelector(".position"), p ? p.map((v) => v.toFixed(1)).join(", ") : "—");
      const rule = row.querySelector("select");
      if (document.activeElement !== rule && !rule.dataset.busy) rule.value = object.rule;
    },
  );
}

async function kick(room, member, name) {
  try {
    await api(`/app/api/rooms/${encodeURIComponent(room)}/kick`, { method: "POST", body: { member } });
    announce(`${name} was kicked out of the party.`);
  } catch (problem) {
    announce(`Could not kick ${name}: ${problem.message}`);
    banner(`Could not kick ${name}: ${problem.message}`);
  }
  await refreshLive();
}

async function setRule(room, object, select) {
  select.dataset.busy = "1";
  try {
    const data = await api(`/app/api/rooms/${encodeURIComponent(room)}/objects/${object}/rule`, {
      method: "POST",
      body: { rule: select.value },
    });
    announce(`Object ${object} now has the rule ${data.rule}.`);
  } catch (problem) {
    announce(`Could not change the rule of object ${object}: ${problem.message}`);
  } finally {
    delete select.dataset.busy;
  }
  await refreshLive();
}

function setUpRoomControls() {
  $("room-select").addEventListener("change", (event) => {
    state.selected = event.target.value;
    renderRooms(state.rooms);
  });
  const old = $("reset-room");
  const reset = confirmingButton(
    "Reset room",
    "Reset: sure?",
    async () => {
      const room = state.selected;
      try {
        const data = await api(`/app/api/rooms/${encodeURIComponent(room)}/reset`, { method: "POST" });
        announce(`Room ${room} was reset: ${plural(data.despawned, "object")} removed.`);
      } catch (problem) {
        announce(`Could not reset room ${room}: ${problem.message}`);
      }
      await refreshLive();
    },
    { describe: "Reset this room: remove every object in it" },
  );
  reset.id = "reset-room";
  reset.setAttribute("aria-describedby", "reset-help");
  old.replaceWith(reset);
}

// ---------------------------------------------------------------------------------------------
// What each player holds, and how many rooms each may create

async function accountAction(path, done, who) {
  fail($("shares-error"), null);
  try {
    const data = await api(path, { method: "POST" });
    announce(done(data));
  } catch (problem) {
    fail($("shares-error"), new Error(`Could not do that for ${who}: ${problem.message}`));
  }
  await Promise.all([refreshAccounts(), refreshLive()]);
}

function renderAccounts(data) {
  const { users, party, limits } = data;
  const rooms = $("player-rooms");
  rooms.max = String(limits.rooms);
  if (document.activeElement !== rooms && !rooms.dataset.dirty) rooms.value = String(limits.player_rooms);
  setText(
    $("shares-summary"),
    `${plural(party.saved, "saved object")} of ${limits.saved} · ${formatBytes(party.saved_bytes)} of ${formatBytes(limits.saved_bytes)} saved`,
  );
  show($("accounts-empty"), users.length === 0);
  syncRows(
    $("accounts").tBodies[0],
    users,
    (user) => user.user_id,
    (user) => {
      const who = () => row.querySelector(".name").textContent; // the name as shown when pressed
      const row = el(
        "tr",
        { "data-user": user.user_id },
        el("th", { scope: "row" }, el("span", { class: "name" }), el("span", { class: "tag" })),
        el("td", { class: "objects" }),
        el("td", { class: "saved" }),
        el("td", { class: "saved-bytes" }),
        el("td", { class: "rooms" }),
        el(
          "td",
          { class: "actions" },
          confirmingButton(
            "Remove their things",
            "Remove: sure?",
            () =>
              accountAction(
                `/app/api/accounts/${encodeURIComponent(user.user_id)}/clear`,
                (done) => `${plural(done.despawned, "object")} of ${who()} removed.`,
                who(),
              ),
            { describe: `Remove everything ${user.name} spawned, saved objects included`, className: "danger clear" },
          ),
          confirmingButton(
            "Remove player",
            "Remove: sure?",
            () =>
              accountAction(
                `/app/api/accounts/${encodeURIComponent(user.user_id)}/remove`,
                () => `${who()} was removed from the party.`,
                who(),
              ),
            { describe: `Remove ${user.name} from the party: their connections end now`, className: "danger remove" },
          ),
        ),
      );
      return row;
    },
    (row, user) => {
      setText(row.querySelector(".name"), user.name || "(unnamed)");
      const tag = user.host ? "host" : user.sessions ? (user.connected ? "playing" : "reconnecting") : "";
      setText(row.querySelector(".tag"), tag);
      setText(row.querySelector(".objects"), user.host ? String(user.objects) : `${user.objects} of ${limits.objects_per_user}`);
      setText(row.querySelector(".saved"), user.host ? String(user.saved) : `${user.saved} of ${limits.saved_per_user}`);
      setText(row.querySelector(".saved-bytes"), formatBytes(user.saved_bytes));
      setText(row.querySelector(".rooms"), user.host ? String(user.rooms) : `${user.rooms} of ${limits.player_rooms}`);
      row.querySelector(".remove").hidden = user.sessions === 0;
    },
  );
}

async function refreshAccounts() {
  try {
    renderAccounts(await api("/app/api/accounts"));
  } catch (problem) {
    setText($("shares-summary"), "The relay is not answering");
  }
}

function setUpPolicy() {
  const form = $("policy-form");
  const rooms = $("player-rooms");
  rooms.addEventListener("input", () => {
    rooms.dataset.dirty = "1";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fail($("shares-error"), null);
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await api("/app/api/policy", { method: "POST", body: { player_rooms: Number(rooms.value) } });
      delete rooms.dataset.dirty;
      announce(`Each player may now create ${plural(data.player_rooms, "room")}.`);
    } catch (problem) {
      fail($("shares-error"), problem);
    } finally {
      button.disabled = false;
    }
    await refreshAccounts();
  });
}

// ---------------------------------------------------------------------------------------------
// Traffic

const MESSAGES = [
  { key: "messages_in", label: "in", colour: "#7a3cf0", fill: "rgba(122, 60, 240, 0.18)" },
  { key: "messages_out", label: "out", colour: "#e4572e" },
];
const BYTES = [
  { key: "bytes_in", label: "in", colour: "#7a3cf0", fill: "rgba(122, 60, 240, 0.18)" },
  { key: "bytes_out", label: "out", colour: "#e4572e" },
];

function renderTraffic() {
  const rates = state.stats ? state.stats.per_second : null;
  setText($("rate-messages-in"), formatRate(rates && rates.messages_in, "messages"));
  setText($("rate-messages-out"), formatRate(rates && rates.messages_out, "messages"));
  setText($("rate-bytes-in"), formatRate(rates && rates.bytes_in, "bytes"));
  setText($("rate-bytes-out"), formatRate(rates && rates.bytes_out, "bytes"));
  setText(
    $("refused"),
    state.stats ? `${state.stats.refused_updates} (${formatRate(rates.refused_updates, "messages")})` : "–",
  );
  drawChart($("chart-messages"), state.history, MESSAGES, { unit: "messages", span: SPAN, title: "Messages per second" });
  drawChart($("chart-bytes"), state.history, BYTES, { unit: "bytes", span: SPAN, title: "Data per second" });
}

async function refreshLive() {
  const since = state.history.length ? state.history[state.history.length - 1].t : 0;
  let data;
  try {
    data = await api(`/app/api/live?since=${since}`);
  } catch (problem) {
    banner(`Lost contact with the party server (${problem.message}). Retrying…`);
    return;
  }
  banner(data.relay === "ok" ? null : "The relay is not answering yet; the party's live view will appear when it does.");
  state.history.push(...data.history);
  const cutoff = (state.history.length ? state.history[state.history.length - 1].t : 0) - SPAN;
  state.history = state.history.filter((sample) => sample.t >= cutoff);
  state.stats = data.stats;
  renderRooms(data.rooms);
  renderTraffic();
}

// ---------------------------------------------------------------------------------------------
// Health

async function refreshHealth() {
  let data;
  try {
    data = await api("/app/api/health");
  } catch (problem) {
    return;
  }
  show($("supervisor-down"), data.supervisor !== "ok");
  syncRows(
    $("processes").tBodies[0],
    data.processes,
    (process) => process.name,
    (process) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, process.title),
        el("td", {}, el("span", { class: "state" })),
        el("td", { class: "answers" }),
        el("td", { class: "uptime" }),
        el("td", { class: "restarts" }),
      ),
    (row, process) => {
      const badge = row.querySelector(".state");
      setText(badge, process.up ? "up" : process.state.toLowerCase());
      badge.className = `state ${process.up ? "up" : "down"}`;
      row.dataset.state = process.state;
      setText(row.querySelector(".answers"), process.answers || "–");
      setText(row.querySelector(".uptime"), formatDuration(process.uptime_s));
      setText(row.querySelector(".restarts"), String(process.restarts));
    },
  );
  const db = data.database;
  setText($("db-kind"), db.kind ? `${db.version || db.kind} (${db.state})` : db.state);
  setText($("db-size"), formatBytes(db.size_bytes));
  // SOIREE_OWN_DATABASE=0: the database is a server elsewhere, with no files on this machine.
  setText($("db-store"), db.own ? formatBytes(db.store_bytes) : "none here (the database is elsewhere)");
  setText($("var-size"), formatBytes(data.var.size_bytes));
}

// ---------------------------------------------------------------------------------------------

if (mode === "sandstorm") setUpSandstormInvites();
else setUpStandaloneInvites();
setUpCopyButtons();
setUpRoomControls();
setUpPolicy();
window.addEventListener("resize", renderTraffic);
every(1000, refreshLive);
every(5000, refreshHealth);
every(2000, refreshAccounts);
