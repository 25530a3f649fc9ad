// Parameter input as the SQLite source stores it: pure conversions, checked against what PostgreSQL stores.
import { describe, expect, it } from 'vitest';
import { decodeBinaryParam, decodeTextParam, OID } from '../../proxy/sqlite/types.ts';

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
});
