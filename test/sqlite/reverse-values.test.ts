// PostgreSQL's captured row JSON back into SQLite storage (mirror/json-scan.ts,
// mirror/sqlite-values.ts): exact past 2^53, REAL bit-exact, bytea, booleans,
// timestamps in PostgreSQL's text form (timestamptz in UTC), nested JSON kept.
import { describe, expect, it } from 'vitest';
import { scanObject } from '../../proxy/mirror/json-scan.ts';
import { toSqliteValue, utcText } from '../../proxy/mirror/sqlite-values.ts';

describe('reverse apply values', () => {
  const row = scanObject('{"id": 9223372036854775807, "f": 0.30000000000000004, "inf": "Infinity", "b": "\\\\x00ff", "ok": false, "n": 12.50, "t": "2024-01-02T03:04:05.123456", "tz": "2024-01-02T05:04:05.5+02:00", "j": {"a": [1, "}"]}, "s": "é \\"q\\" 🚀", "z": null}');

  it('keeps every value exactly', () => {
    expect(toSqliteValue(row.get('id'), 'bigint')).toBe(9223372036854775807n);
    expect(toSqliteValue(row.get('f'), 'double precision')).toBe(0.30000000000000004);
    expect(toSqliteValue(row.get('inf'), 'double precision')).toBe(Infinity);
    expect(toSqliteValue(row.get('b'), 'bytea')).toEqual(Buffer.from([0, 255]));
    expect(toSqliteValue(row.get('ok'), 'boolean')).toBe(0n);
    expect(toSqliteValue(row.get('n'), 'numeric(12, 2)')).toBe('12.50');
    expect(toSqliteValue(row.get('t'), 'timestamp')).toBe('2024-01-02 03:04:05.123456');
    expect(toSqliteValue(row.get('tz'), 'timestamptz')).toBe('2024-01-02 03:04:05.5');
    expect(toSqliteValue(row.get('j'), 'jsonb')).toBe('{"a": [1, "}"]}');
    expect(toSqliteValue(row.get('s'), 'text')).toBe('é "q" 🚀');
    expect(toSqliteValue(row.get('z'), 'text')).toBeNull();
    expect(toSqliteValue(undefined, 'text')).toBeNull();
  });

  it('takes json and jsonb from their text in a row carrying text forms (pg-capture.ts TEXT_MARKER)', () => {
    const marked = scanObject('{"j": "{\\"a\\": null}", "jn": "null", "z": null, "cutover:text": true}');
    expect(toSqliteValue(marked.get('j'), 'jsonb', true)).toBe('{"a": null}');
    expect(toSqliteValue(marked.get('jn'), 'json', true)).toBe('null');
    expect(toSqliteValue(marked.get('z'), 'jsonb', true)).toBeNull();
    // a JSON string held in a row without the marker stays the JSON text it is
    expect(toSqliteValue(marked.get('jn'), 'json')).toBe('"null"');
  });

  it('moves timestamptz across midnight and keeps infinity', () => {
    expect(utcText('2024-01-01T01:00:00-03:30')).toBe('2024-01-01 04:30:00');
    expect(utcText('2024-01-01T01:00:00+05')).toBe('2023-12-31 20:00:00');
    expect(utcText('infinity')).toBe('infinity');
  });

  it('writes a timestamptz before the common era in UTC, as an AD one, its era kept', () => {
    // to_json's text in a session of another zone: the offset was kept ('0044-03-15 10:00:00+02:00 BC')
    expect(utcText('0044-03-15T10:00:00+02:00 BC')).toBe('0044-03-15 08:00:00 BC');
    expect(utcText('0044-03-15T08:00:00+00:00 BC')).toBe('0044-03-15 08:00:00 BC');
    expect(utcText('0044-03-15T10:00:00.25-05 BC')).toBe('0044-03-15 15:00:00.25 BC');
    // across a day, a leap day of the proleptic calendar (1 BC and 5 BC have one; 44 BC none), and into AD
    expect(utcText('0001-03-01T00:30:00+01:00 BC')).toBe('0001-02-29 23:30:00 BC');
    expect(utcText('0044-03-01T00:30:00+01:00 BC')).toBe('0044-02-28 23:30:00 BC');
    expect(utcText('0001-12-31T23:30:00-01:00 BC')).toBe('0001-01-01 00:30:00');
    expect(utcText('4713-01-01T12:00:00+00:00 BC')).toBe('4713-01-01 12:00:00 BC');
    expect(toSqliteValue(scanObject('{"tz": "0044-03-15T10:00:00+02:00 BC"}').get('tz'), 'timestamptz')).toBe('0044-03-15 08:00:00 BC');
    expect(toSqliteValue(scanObject('{"ts": "0044-03-15T10:00:00.5 BC"}').get('ts'), 'timestamp')).toBe('0044-03-15 10:00:00.5 BC');
  });

  it('refuses what would not fit instead of storing it wrong', () => {
    expect(() => toSqliteValue(row.get('f'), 'bigint')).toThrow(/not an integer/);
    expect(() => scanObject('[1]')).toThrow(/object/);
  });
});
