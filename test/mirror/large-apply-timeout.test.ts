// A large apply gets as long on the mirror as the proxy waits for it. The
// apply sessions run under a statement_timeout (a stuck apply must not hold a
// COMMIT, or the drainer, for ever), but a row of a few hundred MB takes longer
// than that to parse and write: its apply was cancelled at every retry, the
// key stayed dirty and reads stayed on the source for good. Played here with
// short limits and a mirror made slow by a trigger that fires in replica mode.
import { expect, it } from 'vitest';
import { MirrorApplier } from '../../proxy/mirror/apply.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('an apply over 1 MB gets its round-trip deadline as its statement timeout', async () => {
  const pair = await databasePair('mirror_large_apply_timeout');
  await sql(pair.targetUrl, `CREATE TABLE docs (id int PRIMARY KEY, body text);
    CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2.5); RETURN NEW; END $$;
    CREATE TRIGGER slow BEFORE INSERT ON docs FOR EACH ROW EXECUTE FUNCTION slow();
    ALTER TABLE docs ENABLE ALWAYS TRIGGER slow`);
  // a 1 s round trip plus 250 ms a MB: 16 MB gets about 5 s; the sessions' own statement_timeout is 2 s
  const applier = new MirrorApplier(pair.targetUrl, 2, 'on', 1_000, 2_000);
  const body = 'x'.repeat(16 << 20);
  try {
    await applier.apply([{ seq: 1, tbl: '"public"."docs"', op: 'U', pk: '{"id": 1}', row: JSON.stringify({ id: 1, body }) }]);
  } finally {
    await applier.close();
  }
  expect((await sql(pair.targetUrl, 'SELECT id, length(body) AS n FROM docs ORDER BY id')).rows).toEqual([{ id: 1, n: 16 << 20 }]);
});
