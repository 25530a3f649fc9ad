import { describe, expect, it } from 'vitest';
import { databasePair, sql } from './databases.ts';

describe('test harness', () => {
  it('gives each file a fresh database pair on two distinct servers', async () => {
    const pair = await databasePair('harness_smoke');
    const a = await sql(pair.legacyUrl, 'select inet_server_port() as p, current_database() as d');
    const b = await sql(pair.targetUrl, 'select inet_server_port() as p, current_database() as d');
    expect(a.rows[0].d).toBe('harness_smoke');
    expect(b.rows[0].d).toBe('harness_smoke');
    expect(a.rows[0].p).not.toBe(b.rows[0].p);
  });
});
