// "Every replicated table", the tables a verify must compare for its pass to
// let reads start: those the backfill copies (the configured `tables`, or every
// table of the source with a primary key when `tables` is unset) and every
// table with change capture on the source of truth. The proxy mirrors and
// routes reads of a captured table whether the configuration names it or not,
// so a pass that left one out says nothing about what reads would find there.
import type { VerifyReport } from '../backfill/verify/run-verify.ts';
import type { Config } from '../common/config.ts';
import { requireKey } from '../common/config.ts';
import { CliError } from '../common/errors.ts';

/** Capture names a PostgreSQL table `schema.name`; reports name it as tableLabel does (no `public.`). */
const label = (captured: string) => (captured.startsWith('public.') ? captured.slice('public.'.length) : captured);

/** `configured`: the migration's `tables` (config file or environment), not a narrower --tables of one run. */
export async function replicatedTables(cfg: Config, configured: string[] | undefined): Promise<string[]> {
  const [{ readSourceSchema, UnknownTableError }, { tableLabel }, { captureOn, withSource }] = await Promise.all([
    import('../backfill/schema/read-source.ts'),
    import('../backfill/schema/model.ts'),
    import('../proxy/capture/on-source-of-truth.ts'),
  ]);
  let copied: string[];
  try {
    copied = (await readSourceSchema(requireKey(cfg, 'source'), configured, false)).tables.filter((t) => t.key.length).map(tableLabel);
  } catch (e) {
    if (e instanceof UnknownTableError) throw new CliError(`verify: the configured tables: ${e.message}`);
    throw e;
  }
  const on = await captureOn(cfg);
  const status = await withSource(on.url, (c) => c.status());
  const captured = status.tables.filter((t) => t.captured).map((t) => label(t.table));
  return [...new Set([...copied, ...captured])];
}

/** The replicated tables a report did not compare (a table it found missing on the target counts as compared: it differs). */
export function notCompared(r: VerifyReport, replicated: readonly string[]): string[] {
  const seen = new Set([...r.tables.map((t) => t.table), ...r.uncompared.map((u) => u.table)]);
  return replicated.filter((t) => !seen.has(t));
}
