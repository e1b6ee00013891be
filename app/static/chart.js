// A small line chart on a canvas: the relay's traffic over the last minutes, in and out.

import { formatRate } from "./common.js";

const HEIGHT = 150;
const PAD = { left: 58, right: 10, top: 10, bottom: 22 };

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function colour(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

// series: [{key, label, colour, fill}], unit: "messages" or "bytes", span: seconds shown. A series
// with `fill` is drawn as a shaded area under its line, so two series that overlap stay visible.
export function drawChart(canvas, samples, series, { unit, span, title }) {
  const width = Math.max(200, canvas.parentElement.clientWidth);
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(HEIGHT * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(HEIGHT * ratio);
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${HEIGHT}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);

  const now = samples.length ? samples[samples.length - 1].t : Date.now() / 1000;
  const start = now - span;
  const shown = samples.filter((s) => s.t >= start);
  const peak = Math.max(0, ...shown.flatMap((s) => series.map((line) => s[line.key] ?? 0)));
  const top = niceMax(Math.max(peak, unit === "bytes" ? 1000 : 5));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - start) / span) * plotW;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;

  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = colour("--muted", "#5d5a6e");
  ctx.strokeStyle = colour("--rule", "#e2ddd3");
  ctx.lineWidth = 1;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (let i = 0; i <= 2; i += 1) {
    const value = (top * i) / 2;
    const py = Math.round(y(value)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(PAD.left, py);
    ctx.lineTo(width - PAD.right, py);
    ctx.stroke();
    ctx.fillText(formatRate(value, unit), PAD.left - 6, py);
  }
  ctx.textBaseline = "alphabetic";
  ctx.textAlign = "left";
  ctx.fillText(`${Math.round(span / 60)} min ago`, PAD.left, HEIGHT - 5);
  ctx.textAlign = "right";
  ctx.fillText("now", width - PAD.right, HEIGHT - 5);

  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  for (const line of series) {
    // Runs of samples without gaps (a gap is a time the relay did not answer).
    const runs = [[]];
    for (const sample of shown) {
      const value = sample[line.key];
      if (value === null || value === undefined) runs.push([]);
      else runs[runs.length - 1].push([x(sample.t), y(value)]);
    }
    for (const run of runs.filter((r) => r.length)) {
      if (line.fill) {
        ctx.fillStyle = line.fill;
        ctx.beginPath();
        ctx.moveTo(run[0][0], y(0));
        for (const [px, py] of run) ctx.lineTo(px, py);
        ctx.lineTo(run[run.length - 1][0], y(0));
        ctx.closePath();
        ctx.fill();
      }
      ctx.strokeStyle = line.colour;
      ctx.beginPath();
      run.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
      ctx.stroke();
    }
  }

  const last = shown.length ? shown[shown.length - 1] : null;
  const parts = series.map((line) => {
    const values = shown.map((s) => s[line.key]).filter((v) => v !== null && v !== undefined);
    const current = last ? last[line.key] : null;
    return `${line.label} now ${formatRate(current, unit)}, peak ${formatRate(values.length ? Math.max(...values) : null, unit)}`;
  });
  canvas.setAttribute("aria-label", shown.length ? `${title}, last ${Math.round(span / 60)} minutes: ${parts.join("; ")}` : `${title}: no data yet`);
}
