// Parameter input as the SQLite source stores it: pure conversions, checked against what PostgreSQL stores.
import { describe, expect, it } from 'vitest';
import { decodeBinaryParam, decodeTextParam, numericText, OID } from '../../proxy/sqlite/types.ts';

describe('parameter input', () => {
  it('keeps a timestamp\'s microseconds before 2000 as after (floor, not truncation, to milliseconds)', () => {
    expect(decodeTextParam('1999-06-01 12:00:00.123456+00', OID.timestamptz)).toBe('1999-06-01 12:00:00.123456');
    expect(decodeTextParam('2024-06-01 12:00:00.123456+02', OID.timestamptz)).toBe('2024-06-01 10:00:00.123456');
    const minusOne = Buffer.alloc(8);
    minusOne.writeBigInt64BE(-1n);
    expect(decodeBinaryParam(minusOne, OID.timestamp)).toBe('1999-12-31 23:59:59.999999');
  });

  it('reads dates and uuids in PostgreSQL\'s input forms, and refuses what it refuses', () => {
    expect(decodeTextParam('2024-1-5', OID.date)).toBe('2024-01-05');
    expect(() => decodeTextParam('2024-02-30', OID.date)).toThrow(expect.objectContaining({ code: '22008' }));
    expect(decodeTextParam('{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}', OID.uuid)).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(() => decodeTextParam('not-a-uuid', OID.uuid)).toThrow(expect.objectContaining({ code: '22P02' }));
  });

  it('reads numeric text as written, and refuses text that is no number (SQLite would keep it in a NUMERIC column)', () => {
    expect(decodeTextParam(' 1.5e3 ', OID.numeric)).toBe(' 1.5e3 ');
    expect(decodeTextParam('-.5', OID.numeric)).toBe('-.5');
    expect(() => decodeTextParam('notanumber', OID.numeric)).toThrow(expect.objectContaining({ code: '22P02', message: 'invalid input syntax for type numeric: "notanumber"' }));
    expect(() => decodeTextParam('1,5', OID.numeric)).toThrow(expect.objectContaining({ code: '22P02' }));
  });

  it('reads numeric in binary form (asyncpg sends it so) as PostgreSQL\'s numeric_send wrote it, to its display scale', () => {
    // pairs from PostgreSQL 15: v, encode(numeric_send(v::numeric), 'hex')
    const sent: [string, string][] = [
      ['0', '0000000000000000'],
      ['1.5', '000200000000000100011388'],
      ['-123456.789', '0003000140000003000c0d801ed2'],
      ['10000', '00010001000000000001'],
      ['0.0001', '0001ffff000000040001'],
      ['0.00000000000000000001', '0001fffb000000140001'],
      ['12.50', '0002000000000002000c1388'],
      ['-0.5', '0001ffff400000011388'],
      ['NaN', '00000000c0000000'],
      ['99999999999999999999.000000001', '0008000400000009270f270f270f270f270f0000000003e8'],
      ['1000', '000100000000000003e8'],
    ];
    for (const [text, hex] of sent) expect(numericText(Buffer.from(hex, 'hex'))).toBe(text);
    // bound, each is what SQLite keeps whole, but for the one past 15 significant digits (refused: numeric-digits)
    const long = '99999999999999999999.000000001';
    for (const [text, hex] of sent.filter(([t]) => t !== long)) expect(decodeBinaryParam(Buffer.from(hex, 'hex'), OID.numeric)).toBe(text);
    expect(() => decodeBinaryParam(Buffer.from(sent.find(([t]) => t === long)![1], 'hex'), OID.numeric)).toThrow(expect.objectContaining({ code: '22003' }));
    expect(() => decodeBinaryParam(Buffer.from('0001', 'hex'), OID.numeric)).toThrow(expect.objectContaining({ code: '22P03' }));
    expect(() => decodeBinaryParam(Buffer.from('00010000000000002710', 'hex'), OID.numeric)).toThrow(expect.objectContaining({ code: '22P03' }));
  });
});
