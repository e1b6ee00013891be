// The dashboard's top-down map of a room: objects at their (x, z) positions, filled with their
// Owner's colour, ringed with their Master's. Drawn as SVG so every object is a focusable element
// with a spoken description (and data-x/-y/-z attributes that tests read).

import { el } from "./common.js";

const PALETTE = ["#7a3cf0", "#e4572e", "#1b998b", "#d98e04", "#2e86ab", "#c2185b", "#4f7942", "#8a5a44"];
const NOBODY = "#9a96a8";
const VIEW = 100; // the SVG's viewBox is 0..100 on both axes
const MARGIN = 8;
const MIN_SPAN = 10; // metres: a room with one object still shows some space around it
const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

export function memberColour(member) {
  return member ? PALETTE[(member - 1) % PALETTE.length] : NOBODY;
}

export function swatch(member, label) {
  return el(
    "svg",
    { class: "swatch", viewBox: "0 0 10 10", width: 12, height: 12, "aria-hidden": "true", focusable: "false" },
    el("circle", { cx: 5, cy: 5, r: 4.5, fill: memberColour(member) }),
    label ? el("title", {}, label) : null,
  );
}

function fmt(value) {
  return (Math.round(value * 10) / 10).toFixed(1);
}

export class RoomMap {
  constructor(svg, { onSelect } = {}) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.view = null; // {cx, cz, span}
    this.grid = el("g", { class: "grid", "aria-hidden": "true" });
    this.layer = el("g", { class: "objects" });
    this.note = el("text", { class: "map-note", x: VIEW / 2, y: VIEW / 2, "text-anchor": "middle" });
    this.nodes = new Map();
    svg.append(this.grid, this.layer, this.note);
  }

  // Keeps the view still while objects stay inside it and fill a fair part of it.
  fit(points) {
    if (!points.length) return this.view || { cx: 0, cz: 0, span: MIN_SPAN };
    const xs = points.map((p) => p[0]);
    const zs = points.map((p) => p[2]);
    const [minX, maxX, minZ, maxZ] = [Math.min(...xs), Math.max(...xs), Math.min(...zs), Math.max(...zs)];
    const need = Math.max(maxX - minX, maxZ - minZ, MIN_SPAN) * 1.3;
    const view = this.view;
    if (view) {
      const half = view.span / 2;
      const inside = minX >= view.cx - half && maxX <= view.cx + half && minZ >= view.cz - half && maxZ <= view.cz + half;
      if (inside && need >= view.span * 0.4) return view;
    }
    return { cx: (minX + maxX) / 2, cz: (minZ + maxZ) / 2, span: need };
  }

  toView(x, z) {
    const { cx, cz, span } = this.view;
    const scale = (VIEW - 2 * MARGIN) / span;
    return [VIEW / 2 + (x - cx) * scale, VIEW / 2 + (z - cz) * scale];
  }

  drawGrid() {
    const { cx, cz, span } = this.view;
    const step = STEPS.find((s) => span / s <= 8) || STEPS[STEPS.length - 1];
    const half = span / 2 + step;
    this.grid.replaceChildren();
    for (let v = Math.ceil((cx - half) / step) * step; v <= cx + half; v += step) {
      const [x] = this.toView(v, cz);
      if (x >= 0 && x <= VIEW) this.grid.append(el("line", { x1: x, x2: x, y1: 0, y2: VIEW, class: v === 0 ? "axis" : "" }));
    }
    for (let v = Math.ceil((cz - half) / step) * step; v <= cz + half; v += step) {
      const [, z] = this.toView(cx, v);
      if (z >= 0 && z <= VIEW) this.grid.append(el("line", { x1: 0, x2: VIEW, y1: z, y2: z, class: v === 0 ? "axis" : "" }));
    }
    this.grid.append(
      el("text", { class: "map-label", x: VIEW - 1.5, y: VIEW - 1.5, "text-anchor": "end" }, `x → · grid ${step} m`),
      el("text", { class: "map-label", x: 1.5, y: 4 }, "z ↓"),
    );
  }

  render(room, names) {
    const placed = room.objects.filter((o) => Array.isArray(o.position) && o.position.length === 3);
    this.view = this.fit(placed.map((o) => o.position));
    this.drawGrid();
    const seen = new Set();
    for (const object of placed) {
      seen.add(object.id);
      let node = this.nodes.get(object.id);
      if (!node) {
        node = this.create(object);
        this.nodes.set(object.id, node);
        this.layer.append(node);
      }
      this.update(node, object, names);
    }
    for (const [id, node] of this.nodes) {
      if (!seen.has(id)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
    const unplaced = room.objects.length - placed.length;
    this.note.textContent = placed.length
      ? ""
      : room.objects.length
        ? `${unplaced} object${unplaced === 1 ? "" : "s"} without a position`
        : "No objects in this room";
    this.svg.setAttribute("aria-label", `Map of room ${room.name}: ${placed.length} object${placed.length === 1 ? "" : "s"} shown`);
  }

  create(object) {
    const ring = el("circle", { class: "ring", r: 3.4, fill: "none" });
    const dot = el("circle", { class: "dot", r: 2.3 });
    const label = el("text", { class: "object-label", x: 4.2, y: 1.2 }, `#${object.id}`);
    const node = el("g", { class: "object", tabindex: 0, role: "img", "data-id": object.id }, ring, dot, label);
    const select = () => this.onSelect && this.onSelect(object.id);
    node.addEventListener("click", select);
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        select();
      }
    });
    return node;
  }

  update(node, object, names) {
    const [x, y, z] = object.position;
    const [vx, vz] = this.toView(x, z);
    node.style.transform = `translate(${vx.toFixed(2)}px, ${vz.toFixed(2)}px)`;
    node.dataset.x = fmt(x);
    node.dataset.y = fmt(y);
    node.dataset.z = fmt(z);
    node.dataset.owner = object.owner;
    node.dataset.master = object.master;
    node.dataset.rule = object.rule;
    node.children[0].setAttribute("stroke", memberColour(object.master));
    node.children[0].classList.toggle("orphan", !object.master);
    node.children[1].setAttribute("fill", memberColour(object.owner));
    const owner = object.owner ? names.get(object.owner) || `member ${object.owner}` : "nobody";
    const master = object.master ? names.get(object.master) || `member ${object.master}` : "nobody";
    node.setAttribute(
      "aria-label",
      `Object ${object.id} at x ${fmt(x)}, z ${fmt(z)}; owner ${owner}; master ${master}; rule ${object.rule}`,
    );
  }

  highlight(id) {
    for (const [key, node] of this.nodes) node.classList.toggle("selected", key === id);
  }
}
