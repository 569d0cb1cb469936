/**
 * report.html: one self-contained page per run (no network: Chart.js's UMD
 * build is inlined from node_modules/chart.js) with the loss, learning-rate
 * and evaluation curves, classification reports and confusion matrices, and
 * the configuration. When every chart has drawn, the page sets
 * <body data-charts-rendered="N" data-charts-nonblank="N">, which headless
 * browsers (and test/report.test.ts) can check.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic } from '../models/atomic.js';
import { formatClassificationReport, type ClassificationReport } from '../metrics/index.js';
import type { LogRecord } from './callbacks.js';

export interface ReportRun {
  name: string;
  history: LogRecord[];
  /** Runs of one group share charts; each group gets its own (e.g. 'pretraining', 'fine-tuning'). @default '' */
  group?: string;
}

export interface ReportEvaluation {
  name: string;
  /** Class names, in the confusion matrix's order. */
  labels: string[];
  report: ClassificationReport;
  /** [true][predicted] counts. */
  confusion: number[][];
  loss?: number;
}

export interface ReportData {
  title: string;
  /** One or more training runs; their curves share charts. */
  runs: ReportRun[];
  evaluations?: ReportEvaluation[];
  /**
   * Other models scored on the same data (the TF-IDF baseline): a table of
   * accuracy and macro F1 beside the evaluations', then their reports.
   */
  baselines?: ReportEvaluation[];
  /** Headline numbers shown at the top (e.g. the gain from pretraining). */
  summary?: Record<string, string | number>;
  /** Shown as JSON at the bottom. */
  config?: Record<string, unknown>;
  /** Free text paragraphs under the title. */
  notes?: string[];
}

interface ChartSpec {
  id: string;
  title: string;
  yLabel: string;
  logY?: boolean;
  series: { label: string; points: [number, number][] }[];
}

let chartJs: string | undefined;

/** The Chart.js UMD bundle's source (read once). */
export async function chartJsSource(): Promise<string> {
  if (chartJs === undefined) {
    const require = createRequire(import.meta.url);
    // The package's exports list neither the UMD file nor package.json; it sits beside the CJS entry.
    const cjs = require.resolve('chart.js');
    chartJs = await readFile(path.join(path.dirname(cjs), 'chart.umd.js'), 'utf8');
  }
  return chartJs;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside <script>: no `</script>` or `<!--` can appear. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The charts to draw, per group of runs: training loss, learning rate, gradient norm, then one per evaluation metric. */
export function chartSpecs(runs: readonly ReportRun[]): ChartSpec[] {
  const groups = [...new Set(runs.map((r) => r.group ?? ''))];
  return groups.flatMap((g, i) => groupSpecs(runs.filter((r) => (r.group ?? '') === g), g, groups.length > 1 ? `g${i}-` : ''));
}

function groupSpecs(runs: readonly ReportRun[], group: string, prefix: string): ChartSpec[] {
  const series = (key: string) => runs.map((r) => ({
    label: r.name,
    points: r.history.filter((h) => typeof h[key] === 'number' && Number.isFinite(h[key])).map((h) => [h.step, h[key]] as [number, number]),
  })).filter((s) => s.points.length > 0);
  const specs: ChartSpec[] = [
    { id: 'loss', title: 'Training loss', yLabel: 'loss', series: series('loss') },
    { id: 'lr', title: 'Learning rate', yLabel: 'learning rate', series: series('learning_rate') },
    { id: 'grad_norm', title: 'Gradient norm (before clipping)', yLabel: 'L2 norm', logY: true, series: series('grad_norm') },
  ];
  const evalKeys = [...new Set(runs.flatMap((r) => r.history.flatMap((h) => Object.keys(h).filter((k) => k.startsWith('eval_') && k !== 'eval_runtime'))))];
  for (const k of evalKeys.sort()) specs.push({ id: k, title: `Evaluation: ${k.slice(5)}`, yLabel: k.slice(5), series: series(k) });
  return specs.filter((s) => s.series.length > 0)
    .map((s) => ({ ...s, id: prefix + s.id, title: group ? `${s.title} (${group})` : s.title }));
}

function reportTable(e: ReportEvaluation): string {
  const r = e.report;
  const f = (x: number) => x.toFixed(3);
  const rows = r.classes.map((c) => `<tr><th>${escapeHtml(c.name)}</th><td>${f(c.precision)}</td><td>${f(c.recall)}</td><td>${f(c.f1)}</td><td>${c.support}</td></tr>`);
  const avg = (name: string, m?: { precision: number; recall: number; f1: number; support: number }) =>
    m ? `<tr class="avg"><th>${name}</th><td>${f(m.precision)}</td><td>${f(m.recall)}</td><td>${f(m.f1)}</td><td>${m.support}</td></tr>` : '';
  const acc = r.accuracy !== undefined ? `<tr class="avg"><th>accuracy</th><td></td><td></td><td>${f(r.accuracy)}</td><td>${r.macroAvg.support}</td></tr>` : '';
  return `<table class="report"><thead><tr><th></th><th>precision</th><th>recall</th><th>f1-score</th><th>support</th></tr></thead>` +
    `<tbody>${rows.join('')}${acc}${avg('micro avg', r.microAvg)}${avg('macro avg', r.macroAvg)}${avg('weighted avg', r.weightedAvg)}</tbody></table>`;
}

function confusionTable(e: ReportEvaluation): string {
  if (!e.confusion.length) return '<p>(no labeled examples)</p>';
  const max = Math.max(1, ...e.confusion.flat());
  const head = e.labels.map((l) => `<th class="rot"><span>${escapeHtml(l)}</span></th>`).join('');
  const rows = e.confusion.map((row, i) => `<tr><th>${escapeHtml(e.labels[i])}</th>${row.map((n, j) => {
    const a = n / max;
    const bg = i === j ? `rgba(34,139,34,${a.toFixed(3)})` : `rgba(200,40,40,${a.toFixed(3)})`;
    return `<td style="background:${bg}${a > 0.6 ? ';color:#fff' : ''}">${n || ''}</td>`;
  }).join('')}</tr>`).join('');
  return `<table class="confusion"><thead><tr><th>true \\ predicted</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #eee;border-radius:6px;padding:8px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;text-align:right;border-bottom:1px solid #eee}
th:first-child{text-align:left}tr.avg th,tr.avg td{border-top:1px solid #bbb}
.confusion td{min-width:28px;text-align:center}.rot span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
pre{background:#f6f8fa;padding:12px;border-radius:6px;overflow:auto;font-size:12px}
.summary td{font-weight:600}.evals{display:flex;flex-wrap:wrap;gap:32px}
`;

// Runs in the page: draws each chart, then marks <body> for headless checks.
const PAGE_SCRIPT = `
(function () {
  var specs = JSON.parse(document.getElementById('chart-data').textContent);
  var colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  var rendered = 0, nonblank = 0;
  var done = { id: 'bertorchDone', afterRender: function (chart) { chart.$bertorchDrawn = true; } };
  try {
    var charts = specs.map(function (s) {
      var canvas = document.getElementById('chart-' + s.id);
      return new Chart(canvas.getContext('2d'), {
        type: 'line',
        data: { datasets: s.series.map(function (d, i) {
          return { label: d.label, data: d.points.map(function (p) { return { x: p[0], y: p[1] }; }),
            borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length],
            pointRadius: d.points.length > 60 ? 0 : 2, borderWidth: 1.5, tension: 0 };
        }) },
        options: { animation: false, responsive: false, parsing: false, normalized: true,
          plugins: { title: { display: true, text: s.title } },
          scales: { x: { type: 'linear', title: { display: true, text: 'step' } },
                    y: { type: s.logY ? 'logarithmic' : 'linear', title: { display: true, text: s.yLabel } } } },
        plugins: [done]
      });
    });
    charts.forEach(function (c) {
      if (!c.$bertorchDrawn) return;
      rendered++;
      var px = c.ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
      for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) { nonblank++; break; }
    });
  } catch (e) {
    document.body.setAttribute('data-report-error', String(e && e.message || e));
  }
  document.body.setAttribute('data-charts-expected', String(specs.length));
  document.body.setAttribute('data-charts-rendered', String(rendered));
  document.body.setAttribute('data-charts-nonblank', String(nonblank));
})();
`;

/** The report page as one HTML string. */
export async function renderReport(data: ReportData): Promise<string> {
  const specs = chartSpecs(data.runs);
  const summary = data.summary && Object.keys(data.summary).length
    ? `<table class="summary">${Object.entries(data.summary).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'number' ? String(Number(v.toFixed(4))) : v)}</td></tr>`).join('')}</table>`
    : '';
  const notes = (data.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join('');
  const charts = specs.map((s) => `<div class="chart"><canvas id="chart-${escapeHtml(s.id)}" width="520" height="300"></canvas></div>`).join('');
  const evals = (data.evaluations ?? []).map((e) =>
    `<section class="evaluation"><h3>${escapeHtml(e.name)}${e.loss !== undefined && Number.isFinite(e.loss) ? ` (loss ${e.loss.toFixed(4)})` : ''}</h3>` +
    `<div class="evals"><div>${reportTable(e)}<pre>${escapeHtml(formatClassificationReport(e.report))}</pre></div>` +
    `<div><h4>Confusion matrix</h4>${confusionTable(e)}</div></div></section>`).join('');
  const baselines = baselineSection(data.evaluations ?? [], data.baselines ?? []);
  const config = data.config ? `<h2>Configuration</h2><pre>${escapeHtml(JSON.stringify(data.config, null, 2))}</pre>` : '';
  const js = (await chartJsSource()).replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title>
<meta name="generator" content="bertorch"><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>${notes}${summary}
<h2>Training curves</h2><div class="charts">${charts || '<p>(nothing logged)</p>'}</div>
${evals ? `<h2>Evaluation</h2>${evals}` : ''}
${baselines}
${config}
<p style="color:#888">Generated by bertorch on ${new Date().toISOString()}</p>
<script id="chart-data" type="application/json">${scriptJson(specs)}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

/** "Model vs baseline": accuracy and macro F1 of every evaluation and baseline, then each baseline's report. */
function baselineSection(evals: readonly ReportEvaluation[], baselines: readonly ReportEvaluation[]): string {
  if (!baselines.length) return '';
  const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4));
  const row = (e: ReportEvaluation, kind: string) =>
    `<tr><th>${escapeHtml(e.name)}</th><td>${kind}</td><td>${f(e.report.accuracy)}</td><td>${f(e.report.macroAvg.f1)}</td></tr>`;
  const table = `<table class="baselines"><tr><th></th><th></th><th>accuracy</th><th>macro F1</th></tr>` +
    evals.map((e) => row(e, 'model')).join('') + baselines.map((e) => row(e, 'baseline')).join('') + '</table>';
  const reports = baselines.map((e) =>
    `<section class="evaluation baseline"><h3>${escapeHtml(e.name)}</h3>` +
    `<div class="evals"><div>${reportTable(e)}<pre>${escapeHtml(formatClassificationReport(e.report))}</pre></div>` +
    `<div><h4>Confusion matrix</h4>${confusionTable(e)}</div></div></section>`).join('');
  return `<h2>Baseline</h2><p>The same evaluation data, scored by a model that costs seconds: if it is close, the network has not earned its cost yet.</p>${table}${reports}`;
}

/**
 * Writes a self-contained report.html (atomically).
 * @example await writeReport('runs/demo/report.html', { title: 'demo', runs: [{ name: 'train', history }] });
 */
export async function writeReport(file: string, data: ReportData): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, await renderReport(data));
}
