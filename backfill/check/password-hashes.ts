// Password-hash formats: an application moving databases often moves
// frameworks too, and a hash format the new code does not verify locks users
// out. Recognised by their modular-crypt or framework prefixes.
export type HashFormat = 'bcrypt' | 'argon2' | 'scrypt' | 'pbkdf2' | 'unknown';

const FORMATS: [HashFormat, RegExp][] = [
  ['bcrypt', /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/],
  ['argon2', /^\$argon2(id|i|d)\$/],
  ['scrypt', /^(\$scrypt\$|\$7\$|scrypt:)/],
  ['pbkdf2', /^(\$pbkdf2(-sha\d+)?\$|pbkdf2_sha\d+\$|pbkdf2:sha\d+:)/],
];

export function hashFormat(v: string): HashFormat {
  for (const [name, re] of FORMATS) if (re.test(v)) return name;
  return 'unknown';
}

/** SQL (PostgreSQL) classifying a column the same way. */
export function hashFormatSql(col: string): string {
  return `CASE WHEN ${col} ~ '^\\$2[abxy]?\\$[0-9]{2}\\$[./A-Za-z0-9]{53}$' THEN 'bcrypt'
               WHEN ${col} ~ '^\\$argon2(id|i|d)\\$' THEN 'argon2'
               WHEN ${col} ~ '^(\\$scrypt\\$|\\$7\\$|scrypt:)' THEN 'scrypt'
               WHEN ${col} ~ '^(\\$pbkdf2(-sha[0-9]+)?\\$|pbkdf2_sha[0-9]+\\$|pbkdf2:sha[0-9]+:)' THEN 'pbkdf2'
               ELSE 'unknown' END`;
}

/** Columns that by their name hold password hashes. */
export const isPasswordColumn = (name: string) => /pass(word)?(_?(hash|digest))?$|passwd|pwd_?hash|^hash(ed)?_?pass/i.test(name);
