// Large rows written beside the proxy, straight on the source, re-synced by the
// background drainer. Its node-postgres connection made each one a JS string
// and copied it four more times on the way to the mirror (404 MB of proxy RSS
// above idle for one 50 MB bytea: bench/large-values.ts, "drained"). A large
// row is now read by its ctid as bytes and reaches the mirror's Bind as a view
// of its DataRow, held to the same budget as sessions' drains, and must still
// arrive byte for byte.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { LiveState } from '../../common/live-state.ts';
import { silentLogger } from '../../common/log.ts';
import { MirrorApplier, type Change, type ChangeApplier } from '../../proxy/mirror/apply.ts';
import { drainBudget, ROW_AS_BYTES } from '../../proxy/mirror/drain-budget.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import type { LargeRowReader } from '../../proxy/mirror/large-rows.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let mirror: MirrorApplier;
/** What each apply of the drainer carried: every large row's JSON as bytes, or not. */
const applied: Change[][] = [];
let drainer: Drainer;

beforeAll(async () => {
  pair = await mirroredPair('mirror_drainer_large_rows', 'CREATE TABLE big (id int PRIMARY KEY, b bytea, t text, tail text); CREATE TABLE docs (id int PRIMARY KEY, j jsonb, a text[], f float8, b bytea)');
  mirror = new MirrorApplier(pair.targetUrl);
  const watching: ChangeApplier = {
    apply: async (changes) => {
      applied.push(changes);
      await mirror.apply(changes);
    },
    probe: (tables) => mirror.probe(tables),
    fence: () => mirror.fence(),
    close: async () => undefined,
  };
  drainer = new Drainer(pair.legacyUrl, watching, new LiveState({ mirroring: true }), silentLogger, 50);
});
afterAll(async () => {
  await drainer?.stop();
  await mirror?.close();
});

const digest = async (url: string) => (await sql(url, 'SELECT id, length(b) AS nb, md5(b) AS b, length(t) AS nt, md5(t) AS t, tail FROM big ORDER BY id')).rows;
/** Characters of 1 to 4 bytes in UTF-8, and ones JSON escapes (quote, backslash, newline, a control character). */
const text = (chars: number, seed: number) => {
  const alphabet = ['a', 'é', '€', '😀', '"', '\\', '\n', '\u0001', 'Ω', ' '];
  let out = '';
  for (let i = 0; i < chars; i++) out += alphabet[(i * 7 + seed + (i >> 5)) % alphabet.length];
  return out;
};
const largeRows = () => applied.flat().filter((c) => c.row !== null && c.row.length >= ROW_AS_BYTES);

it('large rows written on the source reach the mirror byte for byte, as bytes, through updates, deletes and a truncate', async () => {
  const bytes = randomBytes(3 << 20);
  await sql(pair.legacyUrl, 'INSERT INTO big VALUES (1, $1, NULL, $2)', [bytes, 'après']);
  await sql(pair.legacyUrl, 'INSERT INTO big VALUES (2, $1, $2, $3), (3, NULL, $4, NULL)', [bytes.subarray(1), text(1 << 20, 3), '"}\\', 'small']);
  await drainer.flush();
  expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));

  await sql(pair.legacyUrl, 'UPDATE big SET t = t || $1, tail = $2 WHERE id = 2', ['é😀', 'fin']);
  await sql(pair.legacyUrl, 'DELETE FROM big WHERE id = 1');
  await sql(pair.legacyUrl, 'INSERT INTO big VALUES (4, $1, $2, NULL)', [randomBytes(1 << 20), text(300_000, 5)]);
  await drainer.flush();
  const source = await digest(pair.legacyUrl);
  expect(source.map((r) => r.id)).toEqual([2, 3, 4]);
  expect(source[0]).toMatchObject({ nb: (3 << 20) - 1, nt: (1 << 20) + 2, tail: 'fin' });
  expect(await digest(pair.targetUrl)).toEqual(source);

  // a truncate re-copies the whole table, large rows with it
  await sql(pair.legacyUrl, 'TRUNCATE big');
  await sql(pair.legacyUrl, `INSERT INTO big VALUES (5, $1, $2, 'x')`, [randomBytes(2 << 20), text(200_000, 7)]);
  await drainer.flush();
  expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));

  expect(largeRows().length).toBeGreaterThanOrEqual(5);
  expect(largeRows().filter((c) => !Buffer.isBuffer(c.row)).map((c) => c.pk)).toEqual([]);
  expect(drainBudget.taken).toBe(0);
}, 120_000);

it('the drainer waits for the budget of large drained rows while sessions hold it, then goes on', async () => {
  await sql(pair.legacyUrl, 'INSERT INTO big VALUES (10, $1, NULL, NULL)', [randomBytes(2 << 20)]);
  // sessions' large drained rows fill the budget
  const limit = drainBudget.limit;
  drainBudget.limit = 3 << 20;
  onTestFinished(() => void (drainBudget.limit = limit));
  expect(drainBudget.take(3 << 20, false, () => undefined)).toBe(true);
  let given = false;
  const giveBack = () => {
    if (!given) drainBudget.give(3 << 20);
    given = true;
  };
  onTestFinished(giveBack);
  const draining = drainer.drainOnce();
  for (let i = 0; i < 200 && drainBudget.waiters === 0; i++) await new Promise((r) => setTimeout(r, 25));
  expect(drainBudget.waiters).toBe(1);
  expect((await sql(pair.targetUrl, 'SELECT id FROM big WHERE id = 10')).rows).toEqual([]);
  giveBack();
  expect(await draining).toBe(1);
  expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));
  expect(drainBudget.taken).toBe(0);
}, 120_000);

it('large rows written together are re-synced a few at a time, each batch one mirror transaction, and all arrive', async () => {
  // a quarter of the budget a batch: 3 MB of stored large rows, one 2 MB row each
  const limit = drainBudget.limit;
  drainBudget.limit = 12 << 20;
  onTestFinished(() => void (drainBudget.limit = limit));
  const values = [0, 1, 2].map(() => randomBytes(2 << 20));
  await sql(pair.legacyUrl, `INSERT INTO big VALUES (20, $1, $4, NULL), (21, $2, NULL, 'é'), (22, $3, NULL, NULL), (23, NULL, 'small', NULL)`, [...values, text(1000, 2)]);
  applied.length = 0;
  await drainer.flush();
  expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));
  const perApply = applied.map((changes) => changes.filter((c) => c.row !== null && c.row.length >= ROW_AS_BYTES).length).filter((n) => n > 0);
  expect(perApply).toEqual([1, 1, 1]);
  expect(drainBudget.taken).toBe(0);
}, 120_000);

it('a TRUNCATE queued behind the drain while it reads large rows does not hold the drain, nor the drain it', async () => {
  await sql(pair.legacyUrl, 'INSERT INTO big VALUES (30, $1, NULL, NULL)', [randomBytes(1 << 20)]);
  const reader = (drainer as unknown as { large: LargeRowReader }).large;
  const read = reader.read.bind(reader);
  onTestFinished(() => void (reader.read = read));
  let truncating: Promise<unknown> | null = null;
  // the drain holds the row FOR SHARE; a TRUNCATE waits for it, and the large row's read (another
  // connection, holding nothing) queues behind the TRUNCATE: PostgreSQL sees no deadlock
  reader.read = async (...args) => {
    if (!truncating) {
      truncating = sql(pair.legacyUrl, 'TRUNCATE big');
      const waiting = `SELECT 1 FROM pg_locks WHERE relation = 'big'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted`;
      for (let i = 0; i < 200 && !(await sql(pair.legacyUrl, waiting)).rowCount; i++) await new Promise((r) => setTimeout(r, 25));
    }
    return read(...args);
  };
  // the read gives up (lock_timeout) like a drain meeting a row lock: its locks go, the TRUNCATE runs
  expect(await drainer.drainOnce()).toBe(0);
  await truncating;
  reader.read = read;
  await drainer.flush();
  expect(await digest(pair.legacyUrl)).toEqual([]);
  expect(await digest(pair.targetUrl)).toEqual([]);
  expect(drainBudget.taken).toBe(0);
}, 30_000);

it('large rows of a table with json and array columns (their text in the row, capture format 6) arrive byte for byte', async () => {
  const big = text(400_000, 4);
  await sql(pair.legacyUrl, `INSERT INTO docs VALUES (1, $1, $2, '-0', $3), (2, '{"k": [1, 2.50]}', $4, 1.5, NULL)`, [JSON.stringify({ k: big, n: [1, 2.5] }), [big, 'x', '"}'], randomBytes(1 << 20), ['é', '\\', null]]);
  applied.length = 0;
  await drainer.flush();
  const docs = (url: string) => sql(url, `SELECT id, md5(j::text) AS j, md5(a::text) AS a, f::text, md5(b) AS b FROM docs ORDER BY id`).then((r) => r.rows);
  const source = await docs(pair.legacyUrl);
  expect(source[0]).toMatchObject({ id: 1, f: '-0' });
  expect(await docs(pair.targetUrl)).toEqual(source);
  expect(largeRows().map((c) => Buffer.isBuffer(c.row))).toEqual([true]);
}, 120_000);

it('a source URL without its password (PGPASSWORD, as the drainer\'s own connection takes it) reads large rows too', async () => {
  const url = new URL(pair.legacyUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  const before = process.env.PGPASSWORD;
  process.env.PGPASSWORD = password;
  onTestFinished(() => {
    if (before === undefined) delete process.env.PGPASSWORD;
    else process.env.PGPASSWORD = before;
  });
  const own = new Drainer(url.toString(), mirror, new LiveState({ mirroring: true }), silentLogger, 50);
  onTestFinished(() => own.stop());
  await sql(pair.legacyUrl, 'INSERT INTO big VALUES (40, $1, NULL, NULL)', [randomBytes(1 << 20)]);
  await own.flush();
  expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));
}, 60_000);
