// The player page: who is in which room, refreshed every few seconds.

import { api, el, every, setUpCopyButtons } from "./common.js";

const list = document.getElementById("room-list");
const summary = document.getElementById("rooms-summary");

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function refresh() {
  let data;
  try {
    data = await api("/app/api/party");
  } catch (problem) {
    summary.textContent = `The party server is not answering (${problem.message}).`;
    return;
  }
  let text;
  if (data.relay !== "ok") text = "The party is starting; try again in a moment.";
  else {
    const people = data.rooms.reduce((sum, room) => sum + room.members.length, 0);
    const busy = data.rooms.filter((room) => room.members.length).length;
    text = people ? `${plural(people, "player")} in ${plural(busy, "room")}` : "Nobody is here yet: be the first!";
  }
  if (summary.textContent !== text) summary.textContent = text;
  list.replaceChildren(
    ...data.rooms.map((room) =>
      el(
        "li",
        { class: "room", "data-room": room.name },
        el("h3", {}, room.name, " ", el("span", { class: "count" }, `${room.members.length} of ${room.max_members}`)),
        room.members.length
          ? el("ul", { class: "people", "aria-label": `Players in ${room.name}` }, room.members.map((name) => el("li", {}, name)))
          : el("p", { class: "empty" }, "Empty"),
      ),
    ),
  );
}

setUpCopyButtons();
every(5000, refresh);
