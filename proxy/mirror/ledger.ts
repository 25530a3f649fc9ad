// The mirror's ledger of applied transactions. Apply-before-commit writes the
// mirror first: if the proxy dies (kill -9, a crashed host) between a
// session's apply and its source COMMIT, the source rolls that transaction
// back while the mirror keeps it, and no one is left to mark its keys dirty.
// So every apply of a session's transaction also records, in the same mirror
// transaction, the source transaction id and the keys it touched. A drainer
// (any proxy's, after a restart too) looks the ids up on the source once they
// are a few seconds old (txid_status): a transaction that did not commit there
// has its keys recorded dirty on the source and re-synced; the entries of
// finished transactions are deleted.

/** Not `cutover`: `capture remove` drops that schema on the source of truth, which becomes the mirror after a rollback. */
export const LEDGER_SCHEMA = 'cutover_mirror';

export const LEDGER_DDL = `
  CREATE SCHEMA IF NOT EXISTS ${LEDGER_SCHEMA};
  CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.applied (
    txid bigint NOT NULL,
    keys jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
  )`;

/** $1: [{"t": "<txid>", "k": [[tbl, pk], …]}, …] */
export const LEDGER_INSERT = `INSERT INTO ${LEDGER_SCHEMA}.applied (txid, keys) SELECT (e->>'t')::bigint, e->'k' FROM jsonb_array_elements($1::jsonb) e`;

/** Entries old enough that their source transaction has ended, one row per key (pk as the source's jsonb text). */
export const LEDGER_DUE = (minAgeMs: number, limit: number) => `
  SELECT a.txid::text AS txid, k->>0 AS tbl, (k->1)::text AS pk
    FROM (SELECT txid, keys FROM ${LEDGER_SCHEMA}.applied WHERE at < now() - interval '${Math.max(0, Math.floor(minAgeMs))} milliseconds' LIMIT ${limit}) a
    CROSS JOIN LATERAL jsonb_array_elements(a.keys) k`;

export const LEDGER_FORGET = (txids: string[]) => `DELETE FROM ${LEDGER_SCHEMA}.applied WHERE txid = ANY ('{${txids.map((t) => BigInt(t).toString()).join(',')}}'::bigint[])`;

/** One ledger entry per session transaction among the lists (a list with no source transaction id has none). */
export function ledgerEntries(lists: { txid?: string; tbl: string; pk: string }[][]): string | null {
  const entries: string[] = [];
  for (const list of lists) {
    const txid = list[0]?.txid;
    if (!txid) continue;
    // keys spliced as the source's jsonb text: parsed into JavaScript numbers, a bigint key could change
    entries.push(`{"t":${JSON.stringify(txid)},"k":[${list.map((c) => `[${JSON.stringify(c.tbl)},${c.pk}]`).join(',')}]}`);
  }
  return entries.length ? `[${entries.join(',')}]` : null;
}
