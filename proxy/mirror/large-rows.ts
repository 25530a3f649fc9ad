// The drainer's large rows, read as bytes. The drainer's own connection is a
// node-postgres one, which makes every field a JS string: a 50 MB bytea
// re-synced from the source (100 MB of hex JSON) was gathered in a growing
// buffer, made a string, joined into the parameter and made a buffer again
// (404 MB of proxy RSS above idle; 1087 MB for four at once). So the drainer's
// read names a large row by its ctid instead of carrying it, and this reader
// fetches it on a raw protocol connection of its own: the row stays a view of
// its DataRow up to the mirror's socket, held to the same budget as sessions'
// drains (drain-budget.ts).
//
// The row read here is the one the drainer read: the drainer holds it FOR
// SHARE (or its table in SHARE mode, for a truncate's re-copy) until its
// transaction ends, after the apply, so no writer can change it or move it
// to another ctid meanwhile, and a read in another transaction sees that
// same committed version.
import { BackendLink, SERVER_MAX_MESSAGE } from '../backend-link.ts';
import { connectBackend } from '../backend-pg.ts';
import type { Message } from '../framing.ts';
import { bindMessage, EXECUTE, parseErrorFields, parseMessage, SYNC } from '../messages.ts';
import { TOOL_SESSION_OPTIONS } from '../../common/pg-config.ts';
import { nameDatabaseError } from '../../common/errors.ts';
import { databaseLabel, parseDbUrl } from '../../common/urls.ts';
import { BudgetedCollect, rowValue } from './drain-budget.ts';

/** Rows of one read by ctid: each row's ctid (text) and JSON (bytes past ROW_AS_BYTES). */
class RowsByCtid extends BudgetedCollect {
  readonly found = new Map<string, string | Buffer>();

  override onMessage(m: Message): void {
    if (m.type !== 0x44 /* DataRow */) return super.onMessage(m);
    const b = m.bytes;
    const ctidLen = b.readInt32BE(7);
    const ctid = b.toString('utf8', 11, 11 + ctidLen);
    const at = 11 + ctidLen;
    const len = b.readInt32BE(at);
    if (len >= 0) this.found.set(ctid, rowValue(b, at + 4, len));
  }
}

export class LargeRowReader {
  private link: BackendLink | null = null;
  private opening: Promise<BackendLink> | null = null;

  /**
   * `lockTimeoutMs`: this connection holds no lock of the drain's, so a lock
   * it waits for can be queued behind a writer waiting for the drain's own
   * (TRUNCATE, ALTER TABLE): a wait through the proxy that PostgreSQL's
   * deadlock check cannot see. Past the timeout the read fails (55P03) and
   * the drain gives its locks up, as it does for a row lock it waits for.
   */
  constructor(
    private readonly sourceUrl: string,
    private readonly lockTimeoutMs: number,
  ) {}

  /**
   * The JSON (`rowJson`, aliased `alias`) of the rows of `tbl` at `ctids`,
   * by ctid. What they take is held to drainBudget until `release` of the
   * returned hold is called (after their apply).
   */
  async read(tbl: string, alias: string, rowJson: string, ctids: string[]): Promise<{ rows: Map<string, string | Buffer>; release: () => void }> {
    const link = await this.connect();
    const rows = new RowsByCtid();
    const sql = `SELECT ${alias}.ctid::text, ${rowJson}::text FROM ${tbl} ${alias} WHERE ${alias}.ctid = ANY ($1::tid[])`;
    link.request([parseMessage('', sql), bindMessage('', ['{' + ctids.map((c) => `"${c}"`).join(',') + '}']), EXECUTE, SYNC], rows);
    try {
      await rows.done;
    } catch (e) {
      this.drop();
      throw e;
    }
    if (rows.error) {
      rows.release();
      const f = parseErrorFields(rows.error.bytes.subarray(5));
      throw Object.assign(new Error(`drainer: reading large rows of ${tbl}: ${f.M}`), { code: f.C });
    }
    const lost = ctids.find((c) => !rows.found.has(c));
    if (lost !== undefined) {
      rows.release();
      throw new Error(`drainer: the row of ${tbl} at ${lost}, held by the drain, was not found by its ctid`);
    }
    return { rows: rows.found, release: () => rows.release() };
  }

  private connect(): Promise<BackendLink> {
    if (this.link && !this.link.lost) return Promise.resolve(this.link);
    this.opening ??= (async () => {
      try {
        const u = parseDbUrl(this.sourceUrl);
        if (u.kind !== 'postgres') throw new Error(`expected a postgres:// URL, got ${u.kind}`);
        // named as the drainer's own connection's errors are (pgPool): which database, never the role or password
        const conn = await connectBackend({
          endpoint: { host: u.host, port: u.port, sslmode: u.sslmode },
          // the same text settings as the drainer's own connection: the same JSON for the same row
          startup: { user: u.user, database: u.database, application_name: 'cutover-drainer', options: `${TOOL_SESSION_OPTIONS} -c lock_timeout=${this.lockTimeoutMs}`, client_encoding: 'UTF8' },
          // as node-postgres finds it for the drainer's own connection: a URL without one reaches the same role
          secret: { kind: 'password', password: u.password || process.env.PGPASSWORD || '' },
          timeoutMs: 5_000,
          maxMessageSize: SERVER_MAX_MESSAGE,
        }).catch((e: unknown) => {
          throw nameDatabaseError(e, `cannot connect to the ${databaseLabel(u)}`);
        });
        conn.socket.setNoDelay(true);
        this.link = new BackendLink('source', conn.socket);
        return this.link;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  private drop(): void {
    this.link?.destroy();
    this.link = null;
  }

  close(): void {
    this.drop();
  }
}
