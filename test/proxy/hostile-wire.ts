// Random protocol traffic for hostile-client tests: well-formed messages in
// unusual orders and mutilated ones, drawn from a seeded generator so a
// failing seed can be replayed.
import { int16, int32, msg } from './raw-wire.ts';

export interface Random {
  int(n: number): number;
  pick<T>(a: readonly T[]): T;
}

/** A small linear congruential generator: the same seed, the same traffic. */
export function random(seed: number): Random {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  return {
    int: (n) => Math.floor(next() * n),
    pick: (a) => a[Math.floor(next() * a.length)]!,
  };
}

const SQL = [
  'SELECT 1', 'SELECT $1::int', 'INSERT INTO docs (k, body) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET body = excluded.body',
  'BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT a', 'ROLLBACK TO a', 'SELECT * FROM users WHERE id = $1', 'COPY docs FROM STDIN',
  'COPY docs (k) TO STDOUT', 'UPDATE docs SET body = $1 WHERE k = $2', 'DELETE FROM docs WHERE k = $1', 'SELECT pg_sleep(0.01)',
  'SET search_path = public', 'LISTEN x', 'NOTIFY x', 'SELECT 1; SELECT 2', 'SELECT 1/0', 'SELECT 1; SELECT 1/0; SELECT 3',
  'PREPARE p AS SELECT 1', 'EXECUTE p', 'DEALLOCATE ALL', 'DISCARD ALL', 'SELECT generate_series(1, 50)', '/* cutover:source */ SELECT 1',
  'BEGIN READ ONLY', 'LOCK TABLE docs', 'SHOW search_path', "SELECT k FROM docs WHERE k = 'zz' FOR UPDATE", 'VALUES (1), (2)',
  'FETCH ALL FROM c', 'DECLARE c CURSOR FOR SELECT 1', 'DECLARE c CURSOR WITH HOLD FOR SELECT 1', 'CLOSE c', 'COMMIT AND CHAIN',
  'START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'SET LOCAL statement_timeout = 1000', 'RESET ALL', 'SELECT $1::text, $2::text',
  "INSERT INTO docs (k) VALUES ('h' || $1) RETURNING *", 'CREATE TABLE zz (a int)', 'bogus', '',
];

function param(r: Random): Buffer | null {
  return r.pick([null, Buffer.from(String(r.int(1000))), Buffer.from('k' + r.int(50)), Buffer.alloc(r.int(3) ? 0 : 70_000, 0x41), Buffer.from([0xff, 0xfe, 0])]);
}

function bindBody(r: Random, portal: string, statement: string): Buffer {
  const n = r.int(3);
  const values: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const p = param(r);
    values.push(p === null ? int32(-1) : Buffer.concat([int32(p.length), p]));
  }
  const formats = r.int(3) === 0 ? [int16(1), int16(r.int(2))] : [int16(0)];
  return Buffer.concat([Buffer.from(portal + '\0' + statement + '\0'), ...formats, int16(n), ...values, int16(0)]);
}

/** One message, or a few that belong together, well-formed. */
function wellFormed(r: Random): Buffer {
  const name = r.pick(['', 's1', 's2', 'x'.repeat(r.int(2) ? 3 : 70)]);
  const portal = r.pick(['', 'p1']);
  const text = r.pick(SQL);
  const which = (kind: string) => Buffer.from(kind);
  switch (r.int(15)) {
    case 0: return msg('Q', text);
    case 1: return Buffer.concat([msg('P', name, text, int16(0)), msg('B', bindBody(r, portal, name)), msg('D', which('P'), portal), msg('E', portal, int32(r.int(3))), msg('S')]);
    case 2: return msg('P', name, text, int16(1), int32(r.pick([0, 23, 25, 17])));
    case 3: return msg('B', bindBody(r, portal, name));
    case 4: return msg('E', portal, int32(r.int(2)));
    case 5: return msg('S');
    case 6: return msg('H');
    case 7: return msg('C', which(r.pick(['S', 'P'])), r.pick([name, portal]));
    case 8: return msg('D', which(r.pick(['S', 'P'])), r.pick([name, portal]));
    case 9: return msg('d', Buffer.from(`k${r.int(100)}\tbody\n`));
    case 10: return msg(r.pick(['c', 'f']), r.pick(['', 'oops']));
    case 11: return msg('F', int32(r.pick([0, 12345])), int16(0), int16(0), int16(0));
    case 12: return Buffer.concat([msg('P', name, text, int16(0)), msg('S')]);
    case 13: return Buffer.concat([msg('P', name, text, int16(0)), msg('Q', r.pick(SQL))]);
    default: return Buffer.concat([msg('Q', 'BEGIN'), msg('Q', text), msg('Q', r.pick(['COMMIT', 'ROLLBACK', 'bogus']))]);
  }
}

function mutilated(r: Random, b: Buffer): Buffer {
  const out = Buffer.from(b);
  switch (r.int(6)) {
    case 0: // a byte of the body changed
      if (out.length > 5) out[5 + r.int(out.length - 5)] = r.int(256);
      return out;
    case 1: // a length that does not match
      if (out.length >= 5) out.writeInt32BE(r.pick([0, 3, 4, -1, 0x7fffffff, out.length + r.int(50), r.int(out.length)]), 1);
      return out;
    case 2: // cut short
      return out.subarray(0, r.int(out.length + 1));
    case 3: // twice
      return Buffer.concat([out, out]);
    case 4: // a type byte no frontend sends
      if (out.length) out[0] = r.pick([0, 0x70, 0x21, 0x7a]);
      return out;
    default:
      return out;
  }
}

/** A hostile session's traffic after log-in: 1–6 pieces, one in four mutilated, sometimes a Sync at the end. */
export function hostileMessages(r: Random): Buffer[] {
  const out: Buffer[] = [];
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) out.push(r.int(4) ? wellFormed(r) : mutilated(r, wellFormed(r)));
  if (r.int(2)) out.push(msg('S'));
  return out;
}
