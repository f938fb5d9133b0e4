// The history's charts, drawn offline with Vega-Lite from `historyData` (the history's JSON): one per series, each
// night's mean with ±SE bars against its date, a rule at the first night after each change. Once all are drawn,
// data-history-drawn on <body> holds how many were, so a headless browser can tell.
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const kind = { field: "kind", type: "nominal", title: "change", scale: { domain: ["regression", "improvement"], range: ["#b00020", "#1b5e20"] } };

function percent(c) {
  if (c.change_pct === null || c.change_pct === undefined) return "changed";
  return `${c.change_pct > 0 ? "+" : ""}${c.change_pct.toFixed(1)} %`;
}

function spec(s) {
  const values = s.points.map(p => ({
    date: p.date, commit: p.commit.slice(0, 10), mean: p.mean, se: p.se,
    lo: p.se === null ? p.mean : p.mean - p.se, hi: p.se === null ? p.mean : p.mean + p.se,
  }));
  const changes = s.changes.map(c => ({ date: c.date, label: percent(c), kind: c.regression ? "regression" : "improvement", p: c.p }));
  const x = { field: "date", type: "temporal", title: "night" };
  const y = field => ({ field, type: "quantitative", title: s.metric, scale: { zero: false } });
  const layer = [
    { data: { values }, mark: "rule", encoding: { x, y: y("lo"), y2: { field: "hi" } } },
    { data: { values }, mark: { type: "line", point: true, tooltip: true }, encoding: { x, y: y("mean") } },
  ];
  if (changes.length > 0) {
    layer.push(
      { data: { values: changes }, mark: { type: "rule", strokeDash: [4, 4], strokeWidth: 2, tooltip: true }, encoding: { x, color: kind } },
      { data: { values: changes }, mark: { type: "text", align: "left", dx: 4, y: 8 }, encoding: { x, color: kind, text: { field: "label" } } },
    );
  }
  return { $schema: SCHEMA, width: 800, height: 200, layer };
}

function draw(s, i) {
  return vegaEmbed(`#series-${i}`, spec(s), { actions: false, renderer: "svg" })
    .then(() => 1)
    .catch(e => { console.error(e); return 0; });
}

Promise.all(historyData.series.map(draw)).then(drawn => {
  document.body.dataset.historyDrawn = String(drawn.reduce((a, b) => a + b, 0));
});
