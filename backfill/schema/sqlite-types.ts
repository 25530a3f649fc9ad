// SQLite declared types → PostgreSQL types that keep every value exactly.
// SQLite's own affinity rules decide the storage class (sqlite.org/datatype3),
// so the mapping follows them, and honours the declared names applications
// use for meaning (BOOLEAN, DATE, TIMESTAMP, NUMERIC(p,s), VARCHAR(n)).
// REAL becomes double precision, never `real`, which rounds to 6 digits.

export interface MappedType {
  type: string;
  /** Why the mapping is not exact, when it is not. */
  note?: string;
}

export function mapSqliteType(declared: string): MappedType {
  const d = declared.trim().toUpperCase();
  const args = /\(([^)]*)\)/.exec(d)?.[1]?.split(',').map((s) => s.trim()) ?? [];
  const base = d.replace(/\(.*$/, '').trim();
  if (!d) return { type: 'text', note: 'no declared type: SQLite stores any value here; mapped to text' };
  if (base === 'BOOLEAN' || base === 'BOOL') return { type: 'boolean' };
  if (base === 'DATE') return { type: 'date' };
  if (base === 'DATETIME' || base === 'TIMESTAMP' || base === 'TIMESTAMP WITHOUT TIME ZONE') return { type: 'timestamp' };
  if (base === 'TIMESTAMPTZ' || base === 'TIMESTAMP WITH TIME ZONE') return { type: 'timestamptz' };
  if (base === 'JSON') return { type: 'json' };
  if (base === 'JSONB') return { type: 'jsonb' };
  if (base === 'UUID') return { type: 'uuid' };
  // affinity rule 1: INT anywhere → INTEGER affinity; bigint holds every SQLite integer
  if (d.includes('INT')) return { type: 'bigint' };
  if ((base === 'VARCHAR' || base === 'CHARACTER VARYING' || base === 'NVARCHAR' || base === 'VARYING CHARACTER' || base === 'NATIVE CHARACTER') && args[0] && /^\d+$/.test(args[0])) {
    return { type: `varchar(${args[0]})` };
  }
  if ((base === 'CHAR' || base === 'CHARACTER' || base === 'NCHAR') && args[0] && /^\d+$/.test(args[0])) {
    // char(n) would pad stored values with blanks: varchar keeps them as they are
    return { type: `varchar(${args[0]})`, note: `${declared} kept as varchar(${args[0]}): char(n) would pad values` };
  }
  // rule 2: CHAR, CLOB or TEXT → TEXT affinity
  if (d.includes('CHAR') || d.includes('CLOB') || d.includes('TEXT')) return { type: 'text' };
  // rule 3: BLOB → BLOB affinity
  if (d.includes('BLOB')) return { type: 'bytea' };
  // rule 4: REAL, FLOA, DOUB → REAL affinity
  if (d.includes('REAL') || d.includes('FLOA') || d.includes('DOUB')) return { type: 'double precision' };
  if (base === 'NUMERIC' || base === 'DECIMAL') {
    if (args.length === 2 && args.every((a) => /^\d+$/.test(a))) return { type: `numeric(${args[0]}, ${args[1]})` };
    if (args.length === 1 && /^\d+$/.test(args[0]!)) return { type: `numeric(${args[0]})` };
    return { type: 'numeric' };
  }
  // rule 5: anything else has NUMERIC affinity
  return { type: 'numeric', note: `declared type ${declared} has NUMERIC affinity in SQLite; mapped to numeric` };
}

/** The storage classes (typeof()) a PostgreSQL type accepts from SQLite without loss. */
export function acceptedStorage(pgType: string): string[] {
  if (pgType === 'bigint') return ['integer'];
  if (pgType === 'double precision') return ['integer', 'real'];
  if (pgType.startsWith('numeric')) return ['integer', 'real', 'text'];
  if (pgType === 'boolean') return ['integer', 'text'];
  if (pgType === 'bytea') return ['blob', 'text'];
  return ['text', 'integer', 'real'];
}
