// report.html: self-contained, and its charts really draw in headless Chromium.
// Needs a Chromium binary (CI: `apt-get install -y chromium`; or set CHROMIUM_PATH).
// Without one the browser test fails under CI and is skipped elsewhere, saying why.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { classificationReport, confusionMatrix } from '../lib/metrics/index.js';
import type { LogRecord } from '../lib/train/callbacks.js';
import { chartSpecs, renderReport, writeReport, type ReportData } from '../lib/train/report.js';

const run = promisify(execFile);

function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

function history(name: string, scale: number): LogRecord[] {
  const h: LogRecord[] = [];
  for (let s = 5; s <= 100; s += 5) {
    h.push({ step: s, epoch: s / 50, loss: scale * (2.5 / Math.sqrt(s)), learning_rate: 1e-3 * Math.min(1, s / 20) * (1 - s / 120), grad_norm: 3 / Math.sqrt(s) });
    if (s % 25 === 0) h.push({ step: s, epoch: s / 50, eval_loss: scale * (2 / Math.sqrt(s)), eval_accuracy: 1 - scale / Math.sqrt(s), eval_f1: 0.9 - scale / Math.sqrt(s) });
  }
  return h;
}

function data(): ReportData {
  const labels = ['billing', 'refund', 'cancel </script> <b>'];
  const yTrue = [0, 0, 1, 1, 2, 2, 2, 1];
  const yPred = [0, 1, 1, 1, 2, 0, 2, 1];
  const report = classificationReport(yTrue, yPred, { labels: [0, 1, 2], targetNames: labels, digits: 3 });
  return {
    title: 'Report test',
    runs: [{ name: 'pretrained', history: history('a', 0.5) }, { name: 'from scratch', history: history('b', 1) }],
    evaluations: [{ name: 'pretrained on test', labels, report, confusion: confusionMatrix(yTrue, yPred, [0, 1, 2]), loss: 0.42 }],
    summary: { 'accuracy gain': 0.125 },
    config: { model: { hidden_size: 32 }, note: '</script><script>window.pwned=1</script>' },
  };
}

test('the report is one self-contained page with the data, tables and config', async (t) => {
  const html = await renderReport(data());
  t.notRegex(html, /<script[^>]+src=/i, 'no external scripts');
  t.notRegex(html, /<link[^>]+href=/i, 'no external stylesheets');
  t.regex(html, /Chart\.js v4/);  // the UMD bundle is inlined
  t.is(html.match(/<canvas/g)!.length, chartSpecs(data().runs).length);
  t.is(chartSpecs(data().runs).map((s) => s.id).join(','), 'loss,lr,grad_norm,eval_accuracy,eval_f1,eval_loss');
  t.true(html.includes('cancel &lt;/script&gt; &lt;b&gt;'), 'label names are escaped');
  t.false(html.includes('<script>window.pwned'), 'config text cannot open a script');
  t.regex(html, /macro avg/);
  t.regex(html, /Confusion matrix/);
  t.regex(html, /&quot;hidden_size&quot;: 32/);
});

// Outside CI a missing browser skips the test, with the reason printed and in its title.
const browser = findChromium();
const noBrowser = 'Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)';
if (!browser && !process.env.CI) console.log(`report.test.ts: skipping the browser test: ${noBrowser}`);
const browserTest = browser || process.env.CI ? test : test.skip;
const browserTitle = 'headless Chromium draws every chart of the report' + (browser || process.env.CI ? '' : ` (skipped: ${noBrowser})`);

browserTest(browserTitle, async (t) => {
  const chromium = browser;
  if (!chromium) return t.fail(noBrowser);
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-report-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'report.html');
  await writeReport(file, data());
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${path.join(dir, 'profile')}`];
  const { stdout } = await run(chromium, [...flags, '--dump-dom', `file://${file}`], { timeout: 60_000, maxBuffer: 64 << 20 });
  const body = /<body([^>]*)>/.exec(stdout)?.[1] ?? '';
  const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(body)?.[1];
  t.is(attr('data-report-error'), undefined, `page error: ${attr('data-report-error')}`);
  const expected = chartSpecs(data().runs).length;
  t.is(attr('data-charts-expected'), String(expected));
  t.is(attr('data-charts-rendered'), String(expected));
  t.is(attr('data-charts-nonblank'), String(expected));
  t.is(stdout.match(/<canvas/g)?.length, expected);
  // And a screenshot has pixels (a PNG much larger than a blank page's).
  const png = path.join(dir, 'shot.png');
  await run(chromium, [...flags, `--screenshot=${png}`, '--window-size=1200,1600', `file://${file}`], { timeout: 60_000 });
  const bytes = await readFile(png);
  t.is(bytes.subarray(1, 4).toString(), 'PNG');
  t.true(bytes.length > 20_000, `screenshot is ${bytes.length} bytes`);
});
