/**
 * bench/lift's tables from its result lines: one row per recipe, budget, rate
 * and label count (accuracy: the mean over the fine-tuning seeds), then the
 * same as recipe x labels. Lift (points) is over the recipe's reference at
 * the same labels and rate (another rate where there is none), paired by
 * seed, ± the standard error of the paired differences.
 */

// Records without lr are from before fine-tuning rates were per recipe: 5e-5 for MiniLM, 1e-4 otherwise.
export const lrOf = (x: any): string => x.lr ?? (x.recipe.includes('MiniLM') ? '5e-5' : '1e-4');
// Records without seed are from before --seeds: all were fine-tuned with seed 42.
export const seedOf = (x: any): number => x.seed ?? 42;

const pct = (x: number) => (x * 100).toFixed(1);
const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
const rowKey = (x: any) => JSON.stringify([x.recipe, x.budget, lrOf(x)]);

/** Markdown: the long table, a blank line, the recipe x labels table. */
export function liftTables(done: any[]): string {
  // Groups of one row key and label count, keeping the order rows first landed in.
  const rows = new Map<string, Map<number, any[]>>();
  for (const x of done.filter((d) => d.kind === 'finetune')) {
    const byLabels = rows.get(rowKey(x)) ?? rows.set(rowKey(x), new Map()).get(rowKey(x))!;
    byLabels.set(x.labels, [...(byLabels.get(x.labels) ?? []), x]);
  }
  const groups = [...rows.values()].flatMap((m) => [...m.values()].sort((p, q) => p[0].labels - q[0].labels));
  const steps = (x: any) => done.find((p) => p.kind === 'pretrain' && p.recipe === x.recipe && p.budget === x.budget)?.steps ?? '-';
  const liftOf = (g: any[]) => {
    const r = g[0];
    const refs = r.ref ? groups.filter((h) => h[0].recipe.startsWith(r.ref) && h[0].labels === r.labels) : [];
    const ref = refs.find((h) => lrOf(h[0]) === lrOf(r)) ?? refs[0];
    const d = ref ? g.flatMap((x) => ref.filter((y: any) => seedOf(y) === seedOf(x)).map((y: any) => (x.accuracy - y.accuracy) * 100)) : [];
    if (!d.length) return { text: '-', over: '-' };
    const m = mean(d), se = d.length > 1 ? Math.sqrt(d.reduce((a, x) => a + (x - m) ** 2, 0) / (d.length - 1) / d.length) : NaN;
    return { text: `${m >= 0 ? '+' : ''}${m.toFixed(1)}${Number.isFinite(se) ? ` ± ${se.toFixed(1)}` : ''}`, over: `${r.ref}${lrOf(ref![0]) === lrOf(r) ? '' : ` at ${lrOf(ref![0])}`}` };
  };
  const lines = [`| recipe | budget | steps | fine-tune lr | labels | seeds | accuracy | lift | over | TF-IDF baseline |`, '|---|---|---|---|---|---|---|---|---|---|'];
  for (const g of groups) {
    const r = g[0], l = liftOf(g);
    lines.push(`| ${r.recipe} | ${r.budget ?? '-'} | ${steps(r)} | ${lrOf(r)} | ${r.labels} | ${g.map(seedOf).join(',')} | ${pct(mean(g.map((x) => x.accuracy)))} | ${l.text} | ${l.over} | ${pct(r.baseline)} |`);
  }
  const labels = [...new Set(groups.map((g) => g[0].labels as number))].sort((p, q) => p - q);
  const pivot = [`| recipe | budget | steps | fine-tune lr | ${labels.map((n) => `${n} labels`).join(' | ')} |`, `|---|---|---|---|${labels.map(() => '---|').join('')}`];
  for (const byLabels of rows.values()) {
    const r = [...byLabels.values()][0][0];
    const cell = (n: number) => {
      const g = byLabels.get(n);
      if (!g) return '-';
      const l = liftOf(g);
      return `${pct(mean(g.map((x: any) => x.accuracy)))}${l.text !== '-' ? ` (${l.text})` : ''}${g.length > 1 ? ` x${g.length}` : ''}`;
    };
    pivot.push(`| ${r.recipe} | ${r.budget ?? '-'} | ${steps(r)} | ${lrOf(r)} | ${labels.map(cell).join(' | ')} |`);
  }
  pivot.push(`| TF-IDF baseline | - | - | - | ${labels.map((n) => pct(groups.find((g) => g[0].labels === n)![0].baseline)).join(' | ')} |`);
  return lines.join('\n') + '\n\n' + pivot.join('\n');
}
