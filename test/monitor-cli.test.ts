// `bertorch monitor` as a user runs it (bin/bertorch.js in a child process):
// a JSONL file, CSV on stdin, and a growing file with --follow stopped by
// Ctrl-C; alert lines on stdout, the aggregates CSV, report.html (drawn in
// headless Chromium where one is installed), usage errors and --help.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setNumThreads } from '../lib/index.js';
import { GLOOM, TOPICS, newsJsonl, newsStream, trainSentimentModel } from '../examples/sentiment-monitor/headlines.js';

setNumThreads(1);
const run = promisify(execFile);
const BIN = path.resolve('bin/bertorch.js');
const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
const TURN = START + 16 * HOUR + 20 * 60_000;
// One intra-op thread: the machine is shared (and the child's numbers are not measured here).
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

let dir: string;
let model: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bertorch-monitor-cli-'));
  model = path.join(dir, 'model');
  await trainSentimentModel(model, { seed: 1 });
  await writeFile(path.join(dir, 'topics.json'), JSON.stringify(TOPICS));
  const lines = [...newsJsonl({ records: 24 * 300, seed: 3, malformedShare: 0.002, turn: { ticker: 'ACME', at: TURN, to: GLOOM } })];
  await writeFile(path.join(dir, 'news.jsonl'), lines.join('\n') + '\n');
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface AlertLine { type: string; topic: string; direction: string; windowStart: string; windowEnd: string; z: number }
const alertsOf = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertLine);

function checkTurn(t: import('ava').ExecutionContext, alerts: AlertLine[]): void {
  t.true(alerts.length >= 1, 'an alert line');
  t.like(alerts[0], { type: 'alert', topic: 'ACME', direction: 'down' });
  t.true(Date.parse(alerts[0].windowEnd) > TURN && Date.parse(alerts[0].windowStart) <= TURN + HOUR, `alert window ${alerts[0].windowStart}..${alerts[0].windowEnd}`);
  t.deepEqual(alerts.filter((a) => a.topic !== 'ACME'), []);
}

test('a JSONL file: alert lines on stdout, skipped lines named on stderr, aggregates CSV and report.html', async (t) => {
  const agg = path.join(dir, 'out', 'agg.csv');
  const report = path.join(dir, 'out', 'report.html');
  const { stdout, stderr } = await run(process.execPath, [BIN, 'monitor', '--model', model, '--input', path.join(dir, 'news.jsonl'),
    '--topics', path.join(dir, 'topics.json'), '--allowed-lateness', '5m', '--aggregates', agg, '--report', report], { env: ENV, timeout: 120_000 });
  checkTurn(t, alertsOf(stdout));
  t.regex(stderr, /news\.jsonl:\d+: skipped \(bad_json\)/);
  t.regex(stderr, /news\.jsonl:\d+: skipped \(bad_time\)/);
  t.regex(stderr, /7200 records .* malformed, 0 late; \d+ windows, \d+ alerts/);
  const rows = (await readFile(agg, 'utf8')).trim().split('\n');
  t.is(rows[0], 'topic,start,end,count,index,ci_low,ci_high,judged,z,baseline_mean,cusum_up,cusum_down,count_negative,count_neutral,count_positive');
  const acme = rows.slice(1).map((r) => r.split(',')).filter((r) => r[0] === 'ACME' && r[1] === new Date(START + 10 * HOUR).toISOString());
  t.is(acme.length, 1);
  t.is(Number(acme[0][3]), Number(acme[0][12]) + Number(acme[0][13]) + Number(acme[0][14]), 'count = sum of label counts');
  const html = await readFile(report, 'utf8');
  t.is(html.match(/<canvas/g)?.length, 5, 'one chart per topic');
  t.notRegex(html, /<script[^>]+src=/i);
  const data = JSON.parse(/<script id="monitor-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]) as Array<{ topic: string; alerts: unknown[]; windows: unknown[] }>;
  t.deepEqual(data.map((d) => d.topic), ['ACME', 'GLBX', 'HOOL', 'INIT', 'UMBR']);
  t.is(data[0].alerts.length, alertsOf(stdout).filter((a) => a.topic === 'ACME').length, 'the alerts are marked on ACME\'s chart');
  t.true(data[0].windows.length >= 24);
});

test('CSV on stdin with the topic from a field', async (t) => {
  const rows = [...newsStream({ records: 19 * 300, seed: 3, turn: { ticker: 'ACME', at: TURN, to: GLOOM } })]
    .map((r) => `${new Date(r.time).toISOString()},"${r.text.replace(/"/g, '""')}",${r.ticker}`);
  const child = spawn(process.execPath, [BIN, 'monitor', '--model', model, '--format', 'csv', '--topic-field', 'ticker', '--text-field', 'headline', '--allowed-lateness', '5m'], { env: ENV });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end('time,headline,ticker\n' + rows.join('\n') + '\n');
  const code = await new Promise((resolve) => child.on('close', resolve));
  t.is(code, 0, stderr);
  checkTurn(t, alertsOf(stdout));
  t.regex(stderr, /monitoring stdin/);
});

test('--follow reads a growing file, alerts as lines arrive, and stops cleanly on Ctrl-C', async (t) => {
  const file = path.join(dir, 'live.jsonl');
  const lines = [...newsJsonl({ records: 24 * 300, seed: 3, turn: { ticker: 'ACME', at: TURN, to: GLOOM } })];
  await writeFile(file, lines.slice(0, 1000).join('\n') + '\n');
  const report = path.join(dir, 'live.html');
  const child = spawn(process.execPath, [BIN, 'monitor', '--model', model, '--input', file, '--follow', '--poll-ms', '50',
    '--topics', 'ACME=acme,$ACME;GLBX=globex,$GLBX;HOOL=hooli;INIT=initech;UMBR=umbrella', '--allowed-lateness', '5m', '--report', report], { env: ENV });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const alerted = new Promise<void>((resolve) => child.stdout.on('data', (d) => {
    stdout += d;
    if (stdout.includes('\n')) resolve();
  }));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  // Append the rest in pieces, a partial line split across two writes among them.
  for (let k = 1000; k < lines.length; k += 500) {
    const piece = lines.slice(k, k + 500).join('\n') + '\n';
    const cut = Math.floor(piece.length / 2);
    await appendFile(file, piece.slice(0, cut));
    await new Promise((r) => setTimeout(r, 60));
    await appendFile(file, piece.slice(cut));
  }
  await Promise.race([alerted, new Promise((_, reject) => setTimeout(() => reject(new Error(`no alert within 60 s; stderr: ${stderr}`)), 60_000))]);
  child.kill('SIGINT');
  const code = await closed;
  t.is(code, 0, stderr);
  checkTurn(t, alertsOf(stdout));
  t.regex(stderr, /following; Ctrl-C ends/);
  t.regex(stderr, /7200 records/, 'every line written before Ctrl-C was read, none malformed (the split lines were joined)');
  t.true(existsSync(report), 'the report is written after Ctrl-C');
});

test('usage errors exit 2 naming the option; --help lists the options', async (t) => {
  const e = await t.throwsAsync(run(process.execPath, [BIN, 'monitor', '--model', model, '--input', path.join(dir, 'news.jsonl')], { env: ENV })) as unknown as { code: number; stderr: string };
  t.is(e.code, 2);
  t.regex(e.stderr, /--topics or --topic-field/);
  const e2 = await t.throwsAsync(run(process.execPath, [BIN, 'monitor', '--model', model, '--topics', 'A=a', '--window', 'soon'], { env: ENV })) as unknown as { code: number; stderr: string };
  t.is(e2.code, 2);
  t.regex(e2.stderr, /--window/);
  const { stdout } = await run(process.execPath, [BIN, 'monitor', '--help'], { env: ENV });
  for (const flag of ['--follow', '--topics', '--topic-field', '--window', '--slide', '--allowed-lateness', '--aggregates', '--report', '--min-count', '--z-threshold']) t.true(stdout.includes(flag), flag);
});

// The report in a real browser, as test/report.test.ts does: skipped with the reason when no Chromium (outside CI).
const browser = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].find((c): c is string => !!c && existsSync(c));
const noBrowser = 'Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)';
if (!browser && !process.env.CI) console.log(`monitor-cli.test.ts: skipping the browser test: ${noBrowser}`);
(browser || process.env.CI ? test.serial : test.skip)('headless Chromium draws one chart per topic with the alerts marked' + (browser || process.env.CI ? '' : ` (skipped: ${noBrowser})`), async (t) => {
  if (!browser) return t.fail(noBrowser);
  const report = path.join(dir, 'browser.html');
  await run(process.execPath, [BIN, 'monitor', '--model', model, '--input', path.join(dir, 'news.jsonl'), '--topics', path.join(dir, 'topics.json'),
    '--allowed-lateness', '5m', '--report', report, '--quiet'], { env: ENV, timeout: 120_000 });
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${path.join(dir, 'profile')}`];
  const { stdout } = await run(browser, [...flags, '--dump-dom', `file://${report}`], { timeout: 60_000, maxBuffer: 64 << 20 });
  const body = /<body([^>]*)>/.exec(stdout)?.[1] ?? '';
  const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(body)?.[1];
  t.is(attr('data-report-error'), undefined, `page error: ${attr('data-report-error')}`);
  t.is(attr('data-charts-expected'), '5');
  t.is(attr('data-charts-rendered'), '5');
  t.is(attr('data-charts-nonblank'), '5');
  t.true(Number(attr('data-alerts-drawn')) >= 1, `alerts drawn: ${attr('data-alerts-drawn')}`);
});
