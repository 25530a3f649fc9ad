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

/**
 * Fencing token for applies, beside the ledger. An apply given up on (its
 * target frozen or cut off) may still reach the mirror later; its own proxy
 * ends its server process before re-syncing (MirrorApplier.fence), but a
 * proxy that died or restarted meanwhile remembers nothing. So every apply
 * opens with enter(epoch): a shared advisory lock, and the epoch it was sent
 * under checked against the mirror's. A fresh applier bumps the epoch under
 * the lock held alone (in-flight applies finish first; one stuck past the
 * round-trip deadline is ended), so an apply from before the bump, arriving
 * whenever, is refused (CU001) instead of landing over a newer re-sync. A
 * live proxy's apply refused so learns the new epoch and runs again.
 */
export const EPOCH_LOCK = '7306981090512467265';
export const STALE_EPOCH = 'CU001';

export const EPOCH_DDL = `
  CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.epoch (one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL);
  INSERT INTO ${LEDGER_SCHEMA}.epoch (n) VALUES (1) ON CONFLICT DO NOTHING;
  DO $do$ BEGIN
    IF to_regprocedure('${LEDGER_SCHEMA}.enter(bigint)') IS NULL THEN
      CREATE FUNCTION ${LEDGER_SCHEMA}.enter(mine bigint) RETURNS void LANGUAGE plpgsql AS $f$
      BEGIN
        PERFORM pg_advisory_xact_lock_shared(${EPOCH_LOCK});
        IF mine IS DISTINCT FROM (SELECT n FROM ${LEDGER_SCHEMA}.epoch) THEN
          RAISE EXCEPTION USING ERRCODE = '${STALE_EPOCH}', MESSAGE = 'cutover: a mirror apply sent before the last fence (given up on, or from a proxy that restarted) is refused';
        END IF;
      END $f$;
    END IF;
  END $do$`;

export const EPOCH_READ = `SELECT n::text FROM ${LEDGER_SCHEMA}.epoch`;
export const EPOCH_ENTER = `SELECT ${LEDGER_SCHEMA}.enter($1::bigint)`;

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
