/**
 * The monitor's report.html: one self-contained page (Chart.js inlined, as
 * lib/train/report.ts does) with one trend chart per topic — the sentiment
 * index per window with its confidence band, and the alerts marked as red
 * triangles at their windows — plus the counts and the skipped records.
 * When every chart has drawn, <body> gets data-charts-expected / -rendered /
 * -nonblank and data-alerts-drawn, which a headless browser can check.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../models/atomic.js';
import { chartJsSource } from '../train/report.js';
import type { Alert, MonitorStats, WindowAggregate } from './monitor.js';

/** One topic's trend: its windows (oldest first) and its alerts. */
export interface TopicSeries {
  topic: string;
  windows: Array<Pick<WindowAggregate, 'start' | 'end' | 'index' | 'ciLow' | 'ciHigh' | 'count'>>;
  alerts: Array<Pick<Alert, 'windowEnd' | 'index' | 'direction' | 'detectors'>>;
}

export interface MonitorReportData {
  title: string;
  topics: TopicSeries[];
  stats?: Partial<MonitorStats>;
  /** Shown as JSON at the bottom. */
  config?: Record<string, unknown>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #eee;border-radius:6px;padding:8px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;text-align:right;border-bottom:1px solid #eee}th:first-child{text-align:left}
pre{background:#f6f8fa;padding:12px;border-radius:6px;overflow:auto;font-size:12px}
`;

// Draws each topic's chart, then marks <body> for headless checks.
const PAGE_SCRIPT = `
(function () {
  var topics = JSON.parse(document.getElementById('monitor-data').textContent);
  var rendered = 0, nonblank = 0, alertsDrawn = 0;
  var done = { id: 'bertorchDone', afterRender: function (chart) { chart.$bertorchDrawn = true; } };
  function when(ms) { var d = new Date(ms).toISOString(); return d.slice(5, 10) + ' ' + d.slice(11, 16); }
  try {
    var charts = topics.map(function (s, k) {
      var canvas = document.getElementById('chart-' + k);
      var pts = function (key) { return s.windows.map(function (w) { return { x: w.end, y: w[key] }; }); };
      return new Chart(canvas.getContext('2d'), {
        type: 'line',
        data: { datasets: [
          { label: 'CI low', data: pts('ciLow'), borderWidth: 0, pointRadius: 0, fill: false, borderColor: 'rgba(31,119,180,0.15)' },
          { label: 'CI high', data: pts('ciHigh'), borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: 'rgba(31,119,180,0.15)', borderColor: 'rgba(31,119,180,0.15)' },
          { label: 'sentiment index', data: pts('index'), borderColor: '#1f77b4', backgroundColor: '#1f77b4', borderWidth: 1.5, pointRadius: s.windows.length > 80 ? 0 : 2, tension: 0 },
          { label: 'alert', type: 'scatter', data: s.alerts.map(function (a) { return { x: a.windowEnd, y: a.index }; }),
            pointStyle: 'triangle', pointRadius: 8, borderColor: '#d62728', backgroundColor: '#d62728', showLine: false }
        ] },
        options: { animation: false, responsive: false, parsing: false, normalized: true,
          plugins: { title: { display: true, text: s.topic + ' (' + s.alerts.length + ' alert' + (s.alerts.length === 1 ? '' : 's') + ')' },
                     legend: { labels: { filter: function (item) { return item.text.indexOf('CI ') !== 0; } } } },
          scales: { x: { type: 'linear', title: { display: true, text: 'window end (UTC)' }, ticks: { callback: when, maxTicksLimit: 8 } },
                    y: { type: 'linear', title: { display: true, text: 'sentiment index' } } } },
        plugins: [done]
      });
    });
    charts.forEach(function (c) {
      if (!c.$bertorchDrawn) return;
      rendered++;
      alertsDrawn += c.getDatasetMeta(3).data.length;
      var px = c.ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
      for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) { nonblank++; break; }
    });
  } catch (e) {
    document.body.setAttribute('data-report-error', String(e && e.message || e));
  }
  document.body.setAttribute('data-charts-expected', String(topics.length));
  document.body.setAttribute('data-charts-rendered', String(rendered));
  document.body.setAttribute('data-charts-nonblank', String(nonblank));
  document.body.setAttribute('data-alerts-drawn', String(alertsDrawn));
})();
`;

/** The report page as one HTML string. */
export async function renderMonitorReport(data: MonitorReportData): Promise<string> {
  const charts = data.topics.map((_, k) => `<div class="chart"><canvas id="chart-${k}" width="520" height="300"></canvas></div>`).join('');
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const alertRows = data.topics.flatMap((s) => s.alerts.map((a) => ({ topic: s.topic, ...a }))).sort((a, b) => a.windowEnd - b.windowEnd)
    .map((a) => `<tr><th>${escapeHtml(a.topic)}</th><td>${iso(a.windowEnd)}</td><td>${a.direction}</td><td>${escapeHtml(a.detectors.join(', '))}</td><td>${a.index.toFixed(3)}</td></tr>`).join('');
  const st = data.stats ?? {};
  const counts = (['records', 'classified', 'malformed', 'late', 'unmatched', 'windows', 'alerts'] as const)
    .filter((k) => typeof st[k] === 'number').map((k) => `<tr><th>${k}</th><td>${st[k]}</td></tr>`).join('');
  const skipped = (st.skipped ?? []).slice(0, 50).map((r) => `<tr><th>line ${r.line}</th><td>${escapeHtml(r.reason)}</td><td style="text-align:left">${escapeHtml(r.message)}</td></tr>`).join('');
  const js = (await chartJsSource()).replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title>
<meta name="generator" content="bertorch monitor"><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>
${counts ? `<table class="summary">${counts}</table>` : ''}
<h2>Sentiment by topic</h2><div class="charts">${charts || '<p>(no windows)</p>'}</div>
<h2>Alerts</h2>${alertRows ? `<table class="alerts"><thead><tr><th>topic</th><th>window end</th><th>direction</th><th>detectors</th><th>index</th></tr></thead><tbody>${alertRows}</tbody></table>` : '<p>(none)</p>'}
${skipped ? `<h2>Skipped records</h2><table>${skipped}</table>` : ''}
${data.config ? `<h2>Configuration</h2><pre>${escapeHtml(JSON.stringify(data.config, null, 2))}</pre>` : ''}
<p style="color:#888">Generated by bertorch on ${new Date().toISOString()}</p>
<script id="monitor-data" type="application/json">${scriptJson(data.topics)}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

/** Writes the report (atomically). */
export async function writeMonitorReport(file: string, data: MonitorReportData): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFileAtomic(file, await renderMonitorReport(data));
}
