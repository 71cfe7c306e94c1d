// UNetCluster training dashboard: polls /api/jobs and /api/cluster, follows the selected job's server-sent events,
// and draws its loss, throughput and validation curves as SVG, with axis titles and a read-out of the values on hover. No libraries: the silo may run on a closed network.
"use strict";

const state = { jobs: [], selected: null, source: null, points: [], checkpoints: [], validations: [], status: null, drawPending: false };
const $ = (selector) => document.querySelector(selector);
const fmt = (value, digits) => (value === null || value === undefined || Number.isNaN(value)) ? "–" : Number(value).toFixed(digits);
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const shortSilo = (address) => String(address ?? "").replace(/^S/, "").split("@")[0];
// Bytes as MemoryEstimate.Describe writes them for the CLI: "1.2 GiB", "512 MiB".
const bytes = (value) => !value ? "–" : value >= 2 ** 30 ? `${+(value / 2 ** 30).toFixed(1)} GiB` : value >= 2 ** 20 ? `${+(value / 2 ** 20).toFixed(1)} MiB` : `${+(value / 1024).toFixed(1)} KiB`;

function message(text, isError) {
  const box = $("#message");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = !text;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).detail ?? ""; } catch { /* not problem details */ }
    throw new Error(`${url}: ${response.status}${detail ? ` ${detail}` : ""}`);
  }
  return response.json();
}

async function refreshCluster() {
  try {
    const cluster = await getJson("/api/cluster");
    $("#members tbody").innerHTML = cluster.members.map((m) => `
      <tr data-silo="${esc(m.address)}">
        <td title="${esc(m.address)}">${esc(shortSilo(m.address))}${m.thisSilo ? " <span class=\"sub\">(this)</span>" : ""}</td>
        <td><span class="state ${esc(m.status.toLowerCase())}">${esc(m.status.toLowerCase())}</span></td>
        <td>${esc(m.job ?? "–")}</td>
        <td class="num">${m.step ?? "–"}</td>
        <td class="compute">${esc(m.compute ?? "–")}</td>
        <td class="num memory" title="resident memory of the silo's process (RSS) at that step">${m.memoryBytes ? `${bytes(m.memoryBytes)} RSS` : "–"}</td>
        <td class="num">${fmt(m.computeSeconds, 3)}</td>
        <td class="num">${fmt(m.syncSeconds, 3)}</td>
      </tr>`).join("");
  } catch (error) {
    message(`Cannot read the cluster: ${error.message}`, true);
  }
}

async function refreshJobs() {
  try {
    state.jobs = await getJson("/api/jobs");
  } catch (error) {
    message(`Cannot read the jobs: ${error.message}`, true);
    return;
  }

  $("#no-jobs").hidden = state.jobs.length > 0;
  // Rows are updated in place, keyed by job id: a row (and its cancel button) stays the same element while the
  // page refreshes, so a click is never lost to a re-render.
  const body = $("#jobs tbody");
  const newestFirst = state.jobs.slice().reverse();
  newestFirst.forEach((job, index) => {
    let row = body.querySelector(`tr[data-job="${CSS.escape(job.id)}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.className = "selectable";
      row.dataset.job = job.id;
      // A prediction job (issue 19) is one of the jobs: its step is its units done, its rate images per second.
      const kind = job.spec && job.spec.prediction ? ' <span class="kind">predict</span>' : "";
      row.innerHTML = `<td>${esc(job.id)}${kind}</td><td><span class="state"></span></td><td class="num"></td><td class="num"></td>
        <td class="num"></td><td class="num"></td><td><button class="cancel" data-job="${esc(job.id)}">Cancel</button></td>`;
    }
    if (body.children[index] !== row) { body.insertBefore(row, body.children[index] ?? null); }
    const cells = row.children;
    const badge = cells[1].firstElementChild;
    badge.textContent = job.state;
    badge.className = `state ${job.state}`;
    cells[2].textContent = `${job.step} / ${job.steps}`;
    cells[3].textContent = fmt(job.smoothedLoss ?? job.loss, 4);
    cells[4].textContent = job.prediction
      ? `${fmt(job.prediction.imagesPerSecond, 2)} img/s`
      : fmt(job.recentTilesPerSecond || job.tilesPerSecond, 2);
    cells[5].textContent = String(job.workers.length);
    cells[6].firstElementChild.disabled = ["completed", "cancelled", "failed", "completedWithErrors"].includes(job.state);
    row.classList.toggle("selected", job.id === state.selected);
  });
  if (!state.selected && state.jobs.length > 0) {
    const running = state.jobs.filter((j) => j.state === "running" || j.state === "pending");
    select((running[running.length - 1] ?? state.jobs[state.jobs.length - 1]).id);
  }
}

function select(jobId) {
  if (state.selected === jobId) { return; }
  state.selected = jobId;
  state.points = [];
  state.checkpoints = [];
  state.validations = [];
  state.status = state.jobs.find((j) => j.id === jobId) ?? null;
  if (state.source) { state.source.close(); }
  $("#job-card").hidden = false;
  $("#job-id").textContent = jobId;
  document.querySelectorAll("#jobs tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.job === jobId));
  const source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`);
  source.addEventListener("step", (e) => { state.points.push(JSON.parse(e.data)); scheduleDraw(); });
  source.addEventListener("checkpoint", (e) => { state.checkpoints.push(JSON.parse(e.data)); scheduleDraw(); });
  source.addEventListener("validation", (e) => { state.validations.push(JSON.parse(e.data)); scheduleDraw(); });
  source.addEventListener("status", (e) => { state.status = JSON.parse(e.data); scheduleDraw(); });
  source.addEventListener("end", () => { source.close(); refreshJobs(); });
  state.source = source;
  scheduleDraw();
}

function scheduleDraw() {
  if (state.drawPending) { return; }
  state.drawPending = true;
  requestAnimationFrame(() => { state.drawPending = false; drawJob(); });
}

function drawJob() {
  const status = state.status;
  if (status) {
    const badge = $("#job-state");
    badge.textContent = status.state;
    badge.className = `state ${status.state}`;
    const facts = [
      `step ${status.step} of ${status.steps}`,
      `${status.spec.preset} preset`,
      `${status.workers.length} worker${status.workers.length === 1 ? "" : "s"}`,
      `step ${fmt(status.stepSeconds, 2)} s (compute ${fmt(status.computeSeconds, 2)} s, sync ${fmt(status.syncSeconds, 2)} s)`,
      `${(status.parameters / 1e6).toFixed(2)} M parameters`,
    ];
    if (status.recomputedSteps) { facts.push(`${status.recomputedSteps} recomputed`); }
    if (status.bestValidation) { facts.push(`best ${status.bestValidation.metric} ${fmt(status.bestValidation.value, 4)} at step ${status.bestValidation.step}`); }
    const highest = status.highestValidation;
    if (highest && status.bestValidation && highest.step !== status.bestValidation.step) {
      facts.push(`top value ${fmt(highest.value, 4)} at step ${highest.step} (the best is within one standard error of it)`);
    }
    if (status.validationError) { facts.push(`validation: ${status.validationError}`); }
    if (status.waiting) { facts.push(status.waiting); }
    if (status.error) { facts.push(`error: ${status.error}`); }
    $("#job-facts").textContent = facts.join(" · ");
  }

  const steps = state.points.map((p) => p.step);
  drawChart($("#loss-chart"), steps, [
    { values: state.points.map((p) => p.loss), cls: "raw", name: "loss" },
    { values: state.points.map((p) => p.smoothedLoss), cls: "smooth", name: "smoothed" },
  ], { x: "step", y: "loss (mean per pixel)", digits: 4 });
  drawChart($("#throughput-chart"), steps, [{ values: state.points.map((p) => p.tilesPerSecond), cls: "tput", name: "throughput", unit: " tiles/s" }],
    { x: "step", y: "throughput (tiles/s)", digits: 2 });
  const validations = state.validations;
  const metric = validations.at(-1)?.metric ?? status?.spec?.selectBy ?? "pixel-error";
  // The selection metric, and the pixel error beside it when that is not the metric.
  const validationSeries = [{ values: validations.map((v) => v.value), cls: "valmetric", name: metric }];
  if (metric !== "pixel-error") { validationSeries.push({ values: validations.map((v) => v.pixelError), cls: "valpixel", name: "pixel error" }); }
  $("#validation-pixel-legend").hidden = metric === "pixel-error";
  drawChart($("#validation-chart"), validations.map((v) => v.step), validationSeries,
    { x: "step", y: `${metric} (0-1, validation sections)`, digits: 4, dots: true }, "waiting for the first validation…");
  const best = status?.bestValidation ?? validations.filter((v) => v.improved).at(-1) ?? null;
  $("#validation-metric").textContent = validations.at(-1)?.metric ?? "selection metric";
  $("#validation-best").textContent = best ? `best ${fmt(best.value, 4)} at step ${best.step} (threshold ${fmt(best.threshold, 2)})` : "";
  const shown = state.checkpoints.slice(-8).reverse();
  const older = state.checkpoints.length - shown.length;
  $("#checkpoints tbody").innerHTML = shown.map((c) => `
    <tr class="${best && c.step === best.step ? "best" : ""}"><td class="num">${c.step}${best && c.step === best.step ? " ★" : ""}</td><td>${new Date(c.at).toLocaleTimeString()}</td><td class="num">${fmt(c.seconds, 2)}</td>
        <td class="num">${c.bytes ? (c.bytes / 1048576).toFixed(1) + " MiB" : "–"}</td><td title="${esc(c.location)}">${esc(c.location)}</td></tr>`).join("")
    + (older > 0 ? `<tr><td colspan="5" class="empty">and ${older} older</td></tr>` : "")
    || `<tr><td colspan="5" class="empty">none yet</td></tr>`;
}

function niceTicks(min, max, count) {
  const span = max - min || Math.abs(max) || 1;
  const step = Math.pow(10, Math.floor(Math.log10(span / count)));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) ?? step * 10;
  const ticks = [];
  for (let t = Math.ceil(min / unit) * unit; t <= max + unit * 1e-9; t += unit) { ticks.push(t); }
  return ticks;
}

// A line chart with labelled axes (titles with units), a dot per point when asked, and a read-out on hover: the values
// of every series at the step nearest the pointer, shown in the chart's tooltip (#<chart id>-tip).
function drawChart(svg, xs, series, axes, empty = "waiting for the first step…") {
  const width = Math.max(svg.clientWidth, 200), height = Math.max(svg.clientHeight, 120);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("data-points", String(xs.length));
  const pad = { left: 62, right: 12, top: 10, bottom: 38 };
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  svg.chart = null;
  if (xs.length === 0 || values.length === 0) {
    svg.innerHTML = `<text class="nodata" x="${width / 2}" y="${height / 2}" text-anchor="middle">${esc(empty)}</text>`;
    hideTip(svg);
    return;
  }

  const xMin = xs[0], xMax = Math.max(xs[xs.length - 1], xMin + 1);
  let yMin = Math.min(...values), yMax = Math.max(...values);
  if (yMax - yMin < 1e-9) { yMin -= 0.5; yMax += 0.5; }
  const margin = (yMax - yMin) * 0.05;
  yMin = Math.max(0, yMin - margin) === 0 && yMin >= 0 ? Math.max(0, yMin - margin) : yMin - margin;
  yMax += margin;
  const x = (v) => pad.left + (v - xMin) / (xMax - xMin) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - yMin) / (yMax - yMin)) * (height - pad.top - pad.bottom);
  const parts = [];
  for (const t of niceTicks(yMin, yMax, 5)) {
    parts.push(`<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${y(t)}" y2="${y(t)}"/>`);
    parts.push(`<text class="axis" x="${pad.left - 6}" y="${y(t) + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax, 6).filter((t) => Number.isInteger(t))) {
    parts.push(`<text class="axis" x="${x(t)}" y="${height - pad.bottom + 14}" text-anchor="middle">${t}</text>`);
  }
  const midY = (pad.top + height - pad.bottom) / 2;
  parts.push(`<text class="axis-title x" x="${(pad.left + width - pad.right) / 2}" y="${height - 4}" text-anchor="middle">${esc(axes.x)}</text>`);
  parts.push(`<text class="axis-title y" x="12" y="${midY}" text-anchor="middle" transform="rotate(-90 12 ${midY})">${esc(axes.y)}</text>`);
  // The hover area under the curves, so that the validation dots above it keep their own tooltips.
  parts.push(`<rect class="hover-area" x="${pad.left}" y="${pad.top}" width="${width - pad.left - pad.right}" height="${height - pad.top - pad.bottom}"/>`);
  parts.push(`<line class="hover-line" x1="0" x2="0" y1="${pad.top}" y2="${height - pad.bottom}" visibility="hidden"/>`);
  for (const s of series) {
    const points = xs.map((step, i) => [step, s.values[i]]).filter(([, v]) => v !== null && v !== undefined && Number.isFinite(v));
    const path = points.map(([step, v], i) => `${i === 0 ? "M" : "L"}${x(step).toFixed(1)},${y(v).toFixed(1)}`).join("");
    parts.push(`<path class="${s.cls}" d="${path}"/>`);
    if (axes.dots) {
      parts.push(...points.map(([step, v]) => `<circle class="dot ${s.cls}" cx="${x(step).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3"><title>${esc(s.name)} ${fmt(v, axes.digits)} at step ${step}</title></circle>`));
    }
  }
  svg.innerHTML = parts.join("");
  svg.chart = { xs, series, axes, x, xMin, xMax, pad, width };
  if (!svg.dataset.hover) {
    svg.dataset.hover = "1";
    svg.addEventListener("mousemove", (event) => showTip(svg, event));
    svg.addEventListener("mouseleave", () => hideTip(svg));
  }
  if (svg.tipStep !== undefined) { showTipAt(svg, svg.tipStep); }   // keep the read-out while the chart redraws
}

function tipOf(svg) {
  let tip = document.getElementById(`${svg.id}-tip`);
  if (!tip) {
    tip = document.createElement("div");
    tip.id = `${svg.id}-tip`;
    tip.className = "chart-tip";
    tip.hidden = true;
    svg.parentElement.style.position = "relative";
    svg.parentElement.appendChild(tip);
  }
  return tip;
}

function showTip(svg, event) {
  const chart = svg.chart;
  if (!chart) { return; }
  const box = svg.getBoundingClientRect();
  const px = (event.clientX - box.left) * (chart.width / box.width);
  const step = chart.xMin + (px - chart.pad.left) / (chart.width - chart.pad.left - chart.pad.right) * (chart.xMax - chart.xMin);
  let nearest = 0;
  chart.xs.forEach((s, i) => { if (Math.abs(s - step) < Math.abs(chart.xs[nearest] - step)) { nearest = i; } });
  showTipAt(svg, chart.xs[nearest]);
}

function showTipAt(svg, step) {
  const chart = svg.chart;
  const index = chart ? chart.xs.indexOf(step) : -1;
  if (index < 0) { hideTip(svg); return; }
  svg.tipStep = step;
  const line = svg.querySelector(".hover-line");
  line.setAttribute("x1", chart.x(step));
  line.setAttribute("x2", chart.x(step));
  line.setAttribute("visibility", "visible");
  const tip = tipOf(svg);
  tip.dataset.step = String(step);
  tip.innerHTML = `<b>${esc(chart.axes.x)} ${step}</b>` + chart.series
    .map((s) => `<span class="${s.cls}">${esc(s.name)} ${fmt(s.values[index], chart.axes.digits)}${esc(s.unit ?? "")}</span>`).join("");
  tip.style.left = `${Math.min(chart.x(step) / chart.width * 100, 70)}%`;
  tip.hidden = false;
}

function hideTip(svg) {
  svg.tipStep = undefined;
  svg.querySelector(".hover-line")?.setAttribute("visibility", "hidden");
  const tip = document.getElementById(`${svg.id}-tip`);
  if (tip) { tip.hidden = true; }
}

async function cancel(jobId) {
  const token = $("#token").value.trim();
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST", headers });
  if (response.ok) {
    message(`Job ${jobId} is stopping at its next step boundary (a checkpoint is written).`, false);
  } else {
    let reason = "";
    // Errors are RFC 9457 problem details; "errors" lists each problem, "detail" says them in one line.
    try { const problem = await response.json(); reason = problem.errors?.join(" ") ?? problem.detail ?? problem.title; } catch { reason = response.statusText; }
    message(`Cancel refused (${response.status}): ${reason}`, true);
  }
  refreshJobs();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.cancel");
  if (button) { event.stopPropagation(); cancel(button.dataset.job); return; }
  const row = event.target.closest("#jobs tr[data-job]");
  if (row) { select(row.dataset.job); }
});
window.addEventListener("resize", scheduleDraw);

refreshCluster();
refreshJobs();
setInterval(refreshCluster, 2000);
setInterval(refreshJobs, 2000);
