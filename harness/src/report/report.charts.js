// The report's charts, drawn offline with Vega-Lite from `report` (the report's JSON). Each chart, once drawn,
// sets data-<name>-drawn on <body> to how many marks it drew (or "error"), so a headless browser can tell.
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

function embed(id, name, spec, count) {
  return vegaEmbed(id, { $schema: SCHEMA, ...spec }, { actions: false, renderer: "svg" })
    .then(() => { document.body.dataset[name] = String(count); })
    .catch(e => { console.error(e); document.body.dataset[name] = "error"; });
}

function options(id, labels) {
  const select = document.getElementById(id);
  labels.forEach((label, i) => select.add(new Option(label, i)));
  return select;
}

const levelOf = l => (l.rate ?? l.generators);
const levelLabel = l => (l.rate !== null && l.rate !== undefined ? `${l.rate} tx/s` : `${l.generators} generators`);
const color = { field: "variant", type: "nominal", title: "variant" };

// Per level: [name, value, [lo, hi] or null, per-run values or null].
const overRuns = pick => [l => pick(l).mean, l => pick(l).ci95, l => pick(l).values];
const pooled = (value, se) => [value, l => (se(l) === null || se(l) === undefined ? null : [value(l) - se(l), value(l) + se(l)]), () => null];
const metrics = [
  ["probe latency, mean over runs (ms)", ...overRuns(l => l.probe_runs)],
  ["throughput, mean over runs (tx/s)", ...overRuns(l => l.tps_runs)],
  ["generator latency, mean over runs (ms)", ...overRuns(l => l.generator_runs)],
  ["probe latency, p99 of pooled rows, timeouts counted (ms)", l => l.probe.p99, () => null, () => null],
  ["probe latency, pooled mean ± SE (2019 method)", ...pooled(l => l.probe.mean, l => l.probe.se)],
  ["generator latency, pooled mean ± SE (2019 method)", ...pooled(l => l.generator.mean, l => l.generator.se)],
  ["throughput, pooled (tx/s; 2019 runs: the 2019 formula)", l => l.tps, () => null, () => null],
  ["timeouts", l => l.timeouts, () => null, () => null],
];
const containers = [...new Set(report.levels.flatMap(l => Object.keys(l.resources)))].sort();
for (const c of containers) {
  metrics.push([`${c}: CPU % of the machine (pooled samples ± SE)`, ...pooled(l => l.resources[c]?.cpu_mean, l => l.resources[c]?.cpu_se)]);
  metrics.push([`${c}: memory MiB (pooled samples ± SE)`, ...pooled(l => l.resources[c]?.mem_mean, l => l.resources[c]?.mem_se)]);
}

function drawLevels(select) {
  const [name, value, interval, runs] = metrics[select.value];
  const values = report.levels
    .map(l => ({ variant: l.variant, level: levelOf(l), y: value(l), ci: interval(l) }))
    .filter(d => d.y !== null && d.y !== undefined)
    .map(d => ({ ...d, lo: d.ci ? d.ci[0] : d.y, hi: d.ci ? d.ci[1] : d.y }));
  const dots = report.levels.flatMap(l => (runs(l) ?? []).map(v => ({ variant: l.variant, level: levelOf(l), y: v })));
  const x = { field: "level", type: "quantitative", title: "generators (closed runs) or offered rate, tx/s (open runs)" };
  const layer = [
    { data: { values }, mark: { type: "line", point: true, tooltip: true }, encoding: { x, color, y: { field: "y", type: "quantitative", title: name } } },
    { data: { values }, mark: "rule", encoding: { x, color, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
    { data: { values: dots }, mark: { type: "point", size: 12, opacity: 0.5 }, encoding: { x, color, y: { field: "y", type: "quantitative" } } },
  ];
  // Faults: a dashed rule at the generator count where each began, labelled with what it did.
  const faults = report.faults.filter(f => values.some(v => v.variant === f.variant)).map(f => ({ ...f, level: f.generators }));
  if (faults.length > 0) {
    layer.push(
      { data: { values: faults }, mark: { type: "rule", strokeDash: [4, 4] }, encoding: { x, color } },
      { data: { values: faults }, mark: { type: "text", angle: 270, align: "left", dx: 4, dy: -4, y: 0 }, encoding: { x, color, text: { field: "label" } } },
    );
  }
  return embed("#chart", "drawn", { width: 800, height: 420, layer }, values.length);
}

function drawHeadline() {
  const rows = report.variants.flatMap(v => [["sustained generators", v.sustained], ["capacity (tx/s)", v.capacity]]
    .filter(([, e]) => e).map(([metric, e]) => ({ variant: v.variant, metric, e })));
  if (rows.length === 0) return;
  const dots = rows.flatMap(r => r.e.values.map(value => ({ variant: r.variant, metric: r.metric, value, kind: "run" })));
  const bounds = rows.filter(r => r.e.at_least !== undefined).map(r => ({ variant: r.variant, metric: r.metric, value: r.e.at_least, kind: "lower bound (≥)" }));
  const means = rows.filter(r => r.e.mean !== null).map(r => ({
    variant: r.variant, metric: r.metric, mean: r.e.mean, lo: r.e.ci95 ? r.e.ci95[0] : r.e.mean, hi: r.e.ci95 ? r.e.ci95[1] : r.e.mean,
  }));
  const y = { field: "variant", type: "nominal", title: null };
  const xq = field => ({ field, type: "quantitative", title: "one dot per run; bar: mean and 95 % CI", scale: { zero: false } });
  const only = kinds => ({ filter: kinds.map(k => `datum.kind === '${k}'`).join(" || ") });
  const values = [...dots, ...bounds, ...means.map(m => ({ ...m, kind: "mean" }))];
  embed("#headline-chart", "headlineDrawn", {
    data: { values },
    facet: { row: { field: "metric", title: null } },
    spec: {
      width: 700,
      layer: [
        { transform: [only(["run", "lower bound (≥)"])], mark: { type: "point", filled: true, size: 50, tooltip: true }, encoding: { y, x: xq("value"), shape: { field: "kind", title: "" }, color: { field: "variant", legend: null } } },
        { transform: [only(["mean"])], mark: { type: "rule", strokeWidth: 3 }, encoding: { y, x: xq("lo"), x2: { field: "hi" } } },
        { transform: [only(["mean"])], mark: { type: "tick", thickness: 3 }, encoding: { y, x: xq("mean") } },
      ],
    },
    resolve: { scale: { x: "independent" } },
  }, dots.length + bounds.length);
}

function drawCapacity() {
  if (report.capacity.length === 0) return;
  const label = { measured: "measured", at_least: "lower bound (≥)", within: "did not converge: interval only" };
  const runs = report.capacity.flatMap(c => c.runs.map(r => ({
    variant: c.variant, run: r.run, capacity: r.capacity, bound: label[r.bound],
    lo: r.interval ? r.interval[0] : null, hi: r.interval ? (r.interval[1] ?? r.interval[0]) : null,
  })));
  const dots = runs.filter(r => r.capacity !== null);
  const spans = runs.filter(r => r.lo !== null);
  const means = report.capacity.filter(c => c.figures.mean !== null).map(c => ({
    variant: c.variant, mean: c.figures.mean, lo: c.figures.ci95 ? c.figures.ci95[0] : c.figures.mean, hi: c.figures.ci95 ? c.figures.ci95[1] : c.figures.mean,
  }));
  const y = { field: "variant", type: "nominal", title: "variant" };
  const yOffset = { field: "run", type: "nominal" };
  const x = { field: "capacity", type: "quantitative", title: "capacity (tx/s): one dot and its 95 % interval per run; thick bar: mean and 95 % CI over runs" };
  embed("#capacity-chart", "capacityDrawn", {
    width: 700, height: { step: 60 },
    layer: [
      { data: { values: spans }, mark: { type: "rule", opacity: 0.6, tooltip: true }, encoding: { y, yOffset, x: { field: "lo", type: "quantitative" }, x2: { field: "hi" }, color: { field: "variant", legend: null }, strokeDash: { field: "bound", title: "" } } },
      { data: { values: dots }, mark: { type: "point", filled: true, size: 60, tooltip: true },
        encoding: { y, yOffset, x, shape: { field: "bound", title: "" }, color: { field: "variant", legend: null } } },
      { data: { values: means }, mark: { type: "rule", strokeWidth: 3 }, encoding: { y, x: { field: "lo", type: "quantitative" }, x2: { field: "hi" } } },
      { data: { values: means }, mark: { type: "tick", thickness: 3, size: 40 }, encoding: { y, x: { field: "mean", type: "quantitative" } } },
    ],
  }, runs.length);
}

function drawCurve() {
  const closed = report.levels.filter(l => l.rate === null && l.tps_runs.mean !== null);
  const ceiling = Math.max(1, ...report.curve.flatMap(p => [p.p50_ms ?? 0, p.p99_ms ?? 0]), ...closed.map(l => l.timeout_ms));
  const points = [
    ...report.curve.flatMap(p => [
      { variant: p.variant, run: p.run, achieved: p.achieved, quantile: "p50", ms: p.p50_ms ?? ceiling, beyond: p.p50_ms === null },
      { variant: p.variant, run: p.run, achieved: p.achieved, quantile: "p99", ms: p.p99_ms ?? ceiling, beyond: p.p99_ms === null },
    ]),
    ...closed.flatMap(l => [
      { variant: l.variant, run: "mean over runs", achieved: l.tps_runs.mean, quantile: "mean", ms: l.probe_runs.mean ?? l.timeout_ms, beyond: l.probe_runs.mean === null },
      { variant: l.variant, run: "pooled", achieved: l.tps_runs.mean, quantile: "p99", ms: l.probe.p99 ?? l.timeout_ms, beyond: l.probe.p99 === null },
    ]),
  ].filter(p => p.ms > 0);
  embed("#curve-chart", "curveDrawn", {
    width: 800, height: 420,
    data: { values: points },
    mark: { type: "point", tooltip: true },
    encoding: {
      x: { field: "achieved", type: "quantitative", title: "achieved throughput (tx/s)" },
      y: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "latency (ms)" },
      color,
      shape: { field: "quantile", type: "nominal" },
      fill: { condition: { test: "datum.beyond", value: "transparent" }, field: "variant", type: "nominal", legend: null },
      detail: { field: "run" },
    },
  }, points.length);
}

// p99 against the offered rate: every step, each run's fitted curve, the SLO. Where a run's curve meets the SLO is
// its knee search's capacity.
function drawFit() {
  const steps = report.curve.filter(p => p.fitted_p99_ms !== null && p.fitted_p99_ms !== undefined);
  if (steps.length === 0) return;
  const ceiling = Math.max(1, ...steps.flatMap(p => [p.p99_ms ?? 0, p.fitted_p99_ms]));
  const points = steps.map(p => ({
    variant: p.variant, run: p.run, step: p.step, rate: p.rate, ms: p.p99_ms ?? ceiling, beyond: p.p99_ms === null,
    met: p.passed ? "met" : "missed",
  }));
  const fitted = steps.map(p => ({ variant: p.variant, run: p.run, rate: p.rate, ms: p.fitted_p99_ms }));
  const slos = [...new Set(report.capacity.map(c => c.slo_p99_ms).filter(s => s !== null && s !== undefined))].map(ms => ({ ms }));
  const x = { field: "rate", type: "quantitative", title: "offered rate (tx/s)" };
  const y = { field: "ms", type: "quantitative", scale: { type: "log" }, title: "p99 latency (ms)" };
  embed("#fit-chart", "fitDrawn", {
    width: 800, height: 380,
    layer: [
      { data: { values: fitted }, mark: { type: "line", opacity: 0.7 }, encoding: { x, y, color, detail: { field: "run" } } },
      { data: { values: points }, mark: { type: "point", tooltip: true },
        encoding: { x, y, color, shape: { field: "met", type: "nominal", title: "step" },
          fill: { condition: { test: "datum.beyond", value: "transparent" }, field: "variant", type: "nominal", legend: null } } },
      { data: { values: slos }, mark: { type: "rule", strokeDash: [4, 4] }, encoding: { y } },
    ],
  }, points.length);
}

function drawDistribution(select, labels) {
  const label = labels[select.value];
  const points = report.levels.filter(l => levelLabel(l) === label).flatMap(l => [
    ...l.probe_quantiles.map(q => ({ ...q, source: "probe" })),
    ...l.generator_quantiles.map(q => ({ ...q, source: "generators" })),
  ].filter(q => q.ms !== null || q.source === "probe" && l.timeouts > 0)
    .map(q => ({ variant: l.variant, source: q.source, percent: q.percent, x: 100 / (100 - q.percent), ms: q.ms ?? l.timeout_ms, beyond: q.ms === null })));
  const ticks = [50, 90, 99, 99.9, 99.99].map(p => 100 / (100 - p));
  return embed("#distribution-chart", "distributionDrawn", {
    width: 800, height: 380,
    data: { values: points },
    mark: { type: "line", point: true, tooltip: true },
    encoding: {
      x: { field: "x", type: "quantitative", scale: { type: "log" }, axis: { values: ticks, labelExpr: "format(100 - 100 / datum.value, '.4~f') + '%'" }, title: "percentile" },
      y: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "latency (ms)" },
      color,
      strokeDash: { field: "source", type: "nominal", title: "latencies of" },
      fill: { condition: { test: "datum.beyond", value: "transparent" }, field: "variant", type: "nominal", legend: null },
    },
  }, points.length);
}

function drawTimeline(select, runs) {
  const run = runs[select.value];
  const series = report.timeline.find(s => s.run === run);
  const points = series.t_s.map((t_s, i) => ({
    t_s, probe_ms: series.probe_ms[i], probe_max_ms: series.probe_max_ms[i], timeouts: series.timeouts[i], load: series.load[i],
  }));
  const windows = report.fault_windows.filter(w => w.run === run).map(w => ({ ...w, end_s: w.end_s ?? Math.max(w.start_s, ...points.map(p => p.t_s)) }));
  const x = { field: "t_s", type: "quantitative", title: "seconds since the run's first loop" };
  const latency = { type: "quantitative", scale: { type: "log" }, title: "probe latency (ms)" };
  return embed("#timeline-chart", "timelineDrawn", {
    width: 800, height: 360,
    layer: [
      { data: { values: windows }, mark: { type: "rect", opacity: 0.15, color: "#b00020" }, encoding: { x: { field: "start_s", type: "quantitative" }, x2: { field: "end_s" } } },
      { data: { values: points.filter(p => p.probe_ms !== null) }, mark: { type: "line", tooltip: true }, encoding: { x, y: { field: "probe_ms", ...latency } } },
      { data: { values: points.filter(p => p.probe_max_ms !== null) }, mark: { type: "point", size: 10, opacity: 0.5 }, encoding: { x, y: { field: "probe_max_ms", ...latency } } },
      { data: { values: points }, mark: { type: "line", color: "#888", strokeDash: [2, 2] }, encoding: { x, y: { field: "load", type: "quantitative", title: "generators or offered rate (dashed)" } } },
    ],
    resolve: { scale: { y: "independent" } },
  }, points.length);
}

function drawResources() {
  const points = report.levels.flatMap(l => Object.entries(l.resources)
    .filter(([, r]) => r.cpu_mean !== null && (l.tps_runs.mean ?? l.tps) !== null)
    .map(([container, r]) => ({ variant: l.variant, container, tps: l.tps_runs.mean ?? l.tps, cpu: r.cpu_mean })));
  if (points.length === 0) return;
  embed("#resources-chart", "resourcesDrawn", {
    data: { values: points },
    facet: { row: { field: "variant", title: null } },
    spec: {
      width: 700, height: 220,
      mark: { type: "line", point: true, tooltip: true },
      encoding: {
        x: { field: "tps", type: "quantitative", title: "throughput (tx/s, mean over runs)" },
        y: { field: "cpu", type: "quantitative", title: "CPU % of the machine" },
        color: { field: "container", type: "nominal" },
      },
    },
  }, points.length);
}

const metricSelect = options("metric", metrics.map(m => m[0]));
metricSelect.addEventListener("change", () => drawLevels(metricSelect));
drawLevels(metricSelect);
drawHeadline();
drawCapacity();
drawFit();
drawCurve();
const levelLabels = [...new Set(report.levels.map(levelLabel))];
const levelSelect = options("dist-level", levelLabels);
// Start at the highest level all variants share: where the tails differ most.
const shared = levelLabels.filter(lbl => report.variants.every(v => report.levels.some(l => l.variant === v.variant && levelLabel(l) === lbl)));
levelSelect.value = String(Math.max(0, levelLabels.indexOf(shared[shared.length - 1] ?? levelLabels[0])));
levelSelect.addEventListener("change", () => drawDistribution(levelSelect, levelLabels));
if (levelLabels.length > 0) drawDistribution(levelSelect, levelLabels);
const runNames = report.timeline.map(s => s.run);
const runSelect = options("timeline-run", runNames);
runSelect.addEventListener("change", () => drawTimeline(runSelect, runNames));
if (runNames.length > 0) drawTimeline(runSelect, runNames);
drawResources();
