// The two databases' own defaults: what every session gets without asking.
// While the proxy routes reads it starts each read connection with the
// source's values (proxy/read-side-settings.ts), but after finalize the
// application talks to the new database alone, and then its collation orders
// text, its TimeZone and DateStyle spell dates, its search_path finds tables.
import { pgClient } from '../../common/pg-config.ts';
import { ANSWER_SETTINGS_QUERY } from '../../proxy/read-side-settings.ts';
import type { Finding } from './findings.ts';

const DATABASE = `SELECT datcollate AS "collation (LC_COLLATE)", datctype AS "character classes (LC_CTYPE)", pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()`;

/** Each side's defaults, read on a connection of its own with no start-up settings of the tool's. */
async function defaultsOf(url: string): Promise<Map<string, string>> {
  const c = pgClient(url, { options: '' });
  await c.connect();
  try {
    const out = new Map<string, string>();
    for (const [k, v] of Object.entries((await c.query(DATABASE)).rows[0] ?? {})) out.set(k, String(v));
    for (const r of (await c.query(ANSWER_SETTINGS_QUERY)).rows) out.set(r.name as string, r.reset_val as string);
    return out;
  } finally {
    await c.end();
  }
}

/** A warning for each default the new database has otherwise than the source. */
export async function serverDefaultFindings(source: string, target: string): Promise<Finding[]> {
  let s: Map<string, string>;
  let t: Map<string, string>;
  try {
    [s, t] = await Promise.all([defaultsOf(source), defaultsOf(target)]);
  } catch (e) {
    return [{ severity: 'warning', check: 'defaults', message: `could not compare the databases' defaults: ${(e as Error).message}` }];
  }
  const differ = [...s].filter(([k, v]) => t.has(k) && t.get(k) !== v).map(([k, v]) => `${k}: source ${JSON.stringify(v)}, target ${JSON.stringify(t.get(k))}`);
  if (!differ.length) return [{ severity: 'info', check: 'defaults', message: 'the databases have the same collation, encoding and answer-shaping settings' }];
  return [{
    severity: 'warning',
    check: 'defaults',
    message: `the new database's defaults differ (${differ.join('; ')}): routed reads are given the source's, but after finalize the application gets these; set them on the new database (ALTER DATABASE … SET, or its collation) if it relies on the source's`,
  }];
}
