/** Progress on stderr: a redrawn bar on a terminal, a plain line every 30 s elsewhere. */
export class Progress {
  readonly #tty = Boolean(process.stderr.isTTY);
  readonly #start = performance.now();
  #last = 0;

  constructor(
    readonly enabled: boolean,
    readonly totalBytes: number | undefined,
  ) {}

  update(bytes: number, examples: number, tokens: number, final = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!final && now - this.#last < (this.#tty ? 200 : 30000)) return;
    this.#last = now;
    const seconds = (now - this.#start) / 1000;
    const rate = tokens / Math.max(seconds, 1e-3);
    const n = (x: number) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : `${x}`);
    const stats = `${n(examples)} examples, ${n(tokens)} tokens, ${n(rate)} tokens/s, ${seconds.toFixed(0)}s`;
    if (this.#tty) {
      let bar = '';
      if (this.totalBytes) {
        const done = Math.min(1, bytes / this.totalBytes);
        bar = `[${'#'.repeat(Math.round(done * 30)).padEnd(30, '.')}] ${(done * 100).toFixed(0).padStart(3)}% `;
      }
      process.stderr.write(`\rshards ${bar}${stats}\x1b[K${final ? '\n' : ''}`);
    } else {
      process.stderr.write(`shards: ${stats}${final ? ' (done)' : ''}\n`);
    }
  }
}
