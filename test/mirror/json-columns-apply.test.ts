// A table with json, jsonb or array columns (carried as their text in captured
// rows, TEXT_MARKER) was upserted on the mirror through json_array_elements,
// json_populate_record and a ->> per marker and per such column: each row's
// JSON parsed three times more than in a table without one (a 50 MB bytea
// beside a jsonb column: 1.7 s on the mirror against 1.2 s). One
// json_to_recordset reads the rows now; every value must arrive the same,
// typmods applied, from marked rows and from an older trigger's alike.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MirrorApplier, type Change } from '../../proxy/mirror/apply.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let mirror: MirrorApplier;
beforeAll(async () => {
  pair = await mirroredPair('mirror_json_columns_apply', `CREATE TABLE docs (id int PRIMARY KEY, j jsonb, js json, a int[], v varchar(3), n numeric(6, 2), b bytea)`);
  mirror = new MirrorApplier(pair.targetUrl);
});
afterAll(async () => {
  await mirror?.close();
});

const TBL = '"public"."docs"';
const upsert = (id: number, row: object): Change => ({ seq: id, tbl: TBL, op: 'U', pk: `{"id": ${id}}`, row: JSON.stringify({ id, ...row }) });
const read = async () => (await sql(pair.targetUrl, `SELECT id, j::text, js::text, a::text, v, n::text, md5(b) AS b FROM docs ORDER BY id`)).rows;

it('rows of a table with json and array columns are read once by the mirror, every value as before', async () => {
  const bytes = randomBytes(100_000);
  await mirror.apply([
    // as capture writes them: json, jsonb and arrays as their text, the row marked
    upsert(1, { j: '{"a": null, "b": [1, 2.50]}', js: '[null, 1 ]', a: '[0:2]={7,8,9}', v: 'ab   ', n: 1.005, b: `\\x${bytes.toString('hex')}`, 'cutover:text': true }),
    upsert(2, { j: 'null', js: 'null', a: null, v: null, n: null, b: null, 'cutover:text': true }),
    // as an older trigger wrote them: plain to_json, no marker
    upsert(3, { j: { k: 'é"\\' }, js: { x: [1, 2] }, a: [[1, 2], [3, 4]], v: 'xy', n: -0.5, b: '\\x00ff' }),
  ]);
  expect(await read()).toEqual([
    { id: 1, j: '{"a": null, "b": [1, 2.50]}', js: '[null, 1 ]', a: '[0:2]={7,8,9}', v: 'ab ', n: '1.01', b: (await sql(pair.targetUrl, `SELECT md5($1::bytea) AS m`, [bytes])).rows[0].m },
    { id: 2, j: 'null', js: 'null', a: null, v: null, n: null, b: null },
    { id: 3, j: '{"k": "é\\"\\\\"}', js: '{"x":[1,2]}', a: '{{1,2},{3,4}}', v: 'xy', n: '-0.50', b: (await sql(pair.targetUrl, `SELECT md5('\\x00ff'::bytea) AS m`)).rows[0].m },
  ]);
  // the statement the mirror runs reads its parameter with one function, no element or member taken apart again
  const meta = await (mirror as unknown as { meta: Map<string, Promise<{ upsert: string }>> }).meta.get(TBL)!;
  const plan = (await sql(pair.targetUrl, `EXPLAIN (VERBOSE, COSTS OFF) ${meta.upsert.replaceAll('$1::json', `'[]'::json`)}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
  expect(plan.match(/Function Scan/g)).toHaveLength(1);
  expect(plan).not.toMatch(/->>/);
}, 60_000);
