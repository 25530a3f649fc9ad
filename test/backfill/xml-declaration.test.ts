// An xml value's output function, which COPY's text and to_json use, rewrites
// its XML declaration: '<?xml version="1.0"?><r/>' comes out as '<r/>', an
// encoding attribute is dropped. The backfill (COPY text) and the mirror
// (to_json of the captured row) both wrote that form to the new database, so
// `x::text` and XMLSERIALIZE differed from the source, and `cutover verify`,
// which compares the stored text, failed a copy that was otherwise exact (and
// --repair, copying the same way, could not make it pass). Both now carry the
// stored text.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyHistory } from '../../backfill/copy/run-backfill.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from '../mirror/mirrored-pair.ts';

const SCHEMA = `
  CREATE DOMAIN doc AS xml;
  CREATE TABLE docs (id int PRIMARY KEY, body xml, wrapped doc, note text);`;
const ROWS = `INSERT INTO docs VALUES
  (1, '<?xml version="1.0"?><r/>', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><r>é</r>', 'a'),
  (2, '<?xml version="1.0"?>\n<r a="1">x</r>', NULL, 'b'),
  (3, '  <a/>  <b/>', 'plain <c/>', NULL)`;

const stored = async (url: string) => (await sql(url, 'SELECT id, body::text AS body, wrapped::text AS wrapped, note FROM docs ORDER BY id')).rows;

describe('xml values keep their XML declaration', () => {
  let pair: DbPair;
  beforeAll(async () => {
    pair = await databasePair('xml_declaration_copy');
    for (const u of [pair.legacyUrl, pair.targetUrl]) await sql(u, SCHEMA);
    await sql(pair.legacyUrl, ROWS);
  });

  it('through the backfill, and verify finds the copy equal', async () => {
    await copyHistory(pair.legacyUrl, pair.targetUrl);
    expect(await stored(pair.targetUrl)).toEqual(await stored(pair.legacyUrl));
    expect((await stored(pair.targetUrl))[0]!.body).toBe('<?xml version="1.0"?><r/>');
    expect((await runVerify({ source: pair.legacyUrl, target: pair.targetUrl, recheckDelayMs: 10 })).equal).toBe(true);
  });

  it('through verify --repair', async () => {
    await sql(pair.targetUrl, `UPDATE docs SET body = '<r/>' WHERE id = 1`);
    const found = await runVerify({ source: pair.legacyUrl, target: pair.targetUrl, recheckDelayMs: 10 });
    expect(found.tables[0]!.differences).toMatchObject([{ kind: 'different', columns: ['body'] }]);
    await runVerify({ source: pair.legacyUrl, target: pair.targetUrl, recheckDelayMs: 10, repair: true });
    expect(await stored(pair.targetUrl)).toEqual(await stored(pair.legacyUrl));
  });
});

describe('xml values mirrored keep their XML declaration', () => {
  let pair: DbPair;
  let tp: TestProxy;
  beforeAll(async () => {
    pair = await mirroredPair('xml_declaration_mirror', SCHEMA);
    tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0 });
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('written through the proxy and beside it (the drainer)', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query(ROWS);
      await c.query(`UPDATE docs SET note = 'changed' WHERE id = 2`);
    } finally {
      await c.end();
    }
    await sql(pair.legacyUrl, `INSERT INTO docs VALUES (4, '<?xml version="1.0"?><out-of-band/>', NULL, NULL)`);
    await expectConverged(tp.proxy.drainer!, pair, ['public.docs']);
    expect(await stored(pair.targetUrl)).toEqual(await stored(pair.legacyUrl));
    expect((await runVerify({ source: pair.legacyUrl, target: pair.targetUrl, recheckDelayMs: 10 })).equal).toBe(true);
  });
});
