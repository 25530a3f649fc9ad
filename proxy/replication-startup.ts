// The `replication` start-up parameter asks for a walsender: a physical
// (true) or logical (database) replication connection that speaks
// IDENTIFY_SYSTEM, START_REPLICATION and the like. The proxy mirrors and
// routes SQL sessions; a replication stream through it would follow one
// server's WAL, whose positions and slots mean nothing on the other. So it is
// refused at start-up, before any password is asked for, rather than quietly
// turned into an SQL session that fails on its first replication command.
import { AuthFailed } from './auth/client-auth.ts';

/** PostgreSQL's parse_bool: case-insensitive, any unambiguous prefix of true/false/yes/no, on/off, 1/0. */
function parseBool(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (!v) return null;
  const prefixOf = (word: string, min = 1) => v.length >= min && word.startsWith(v);
  if (prefixOf('true') || prefixOf('yes') || prefixOf('on', 2) || v === '1') return true;
  if (prefixOf('false') || prefixOf('no') || prefixOf('off', 2) || v === '0') return false;
  return null;
}

/** Throws for a replication connection (or an invalid value, as PostgreSQL does); returns for an SQL session. */
export function refuseReplication(value: string | undefined): void {
  if (value === undefined) return;
  if (value.toLowerCase() === 'database' || parseBool(value) === true) {
    throw new AuthFailed(
      'replication connections are not supported through the Cutover proxy: connect the replication client to the database server directly',
      '0A000',
    );
  }
  if (parseBool(value) === null) throw new AuthFailed(`invalid value for parameter "replication": "${value}"`, '22023');
}
