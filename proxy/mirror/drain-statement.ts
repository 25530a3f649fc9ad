// The drain a session runs before each COMMIT, sent as a named prepared
// statement: the source parses and plans it once per server connection and
// then only binds and executes it (a simple Query was parsed and planned on
// every transaction).
//
// The statement lives in the client's own server session, so whatever can
// drop it there must be followed: the client's DISCARD ALL / DEALLOCATE, a
// Close of our name, a failed Parse. Whenever it is not known to exist, the
// drain goes as Close + Parse + Bind + Execute in the same write: closing a
// statement that does not exist is no error, so re-preparing never fails for
// a statement left over, and it costs no round trip. A statement gone where
// the proxy cannot see it fails that drain with 26000, which rolls the
// transaction back like any failed drain; the session then drains by simple
// Query for good, because the likely cause is not a DEALLOCATE inside a
// function but a transaction-mode pooler between proxy and source that hands
// each transaction another server connection (PgBouncer before 1.21, or
// without max_prepared_statements): re-preparing would fail again on the next
// switch. After a capture reinstall the server re-plans the statement itself
// (its plan cache follows the new table).
import { Collect, type BackendLink } from '../backend-link.ts';
import { BudgetedCollect, ROW_AS_BYTES, rowValue } from './drain-budget.ts';
import type { CaptureDialect } from '../capture/dialect.ts';
import type { Message } from '../framing.ts';
import type { Change } from './apply.ts';
import { bindMessage, closeMessage, EXECUTE, parseErrorFields, parseMessage, queryMessage, SYNC } from '../messages.ts';
import { decoderFor, type Decode } from './client-encoding.ts';

/** Reserved: a name no client is expected to use (it needs quoting in SQL). */
export const DRAIN_STATEMENT = 'cutover:drain';
/** The statements lifting the session's timeouts around a drain (CaptureDialect.untimed), prepared with it. */
const LIFT = 'cutover:lift';
const LIFT_AHEAD = 'cutover:lift-ahead';
const RESTORE = 'cutover:restore';
/** Every statement name the proxy prepares in a client's session. */
export const OWN_STATEMENTS: readonly string[] = [DRAIN_STATEMENT, LIFT, LIFT_AHEAD, RESTORE];

const BIND = bindMessage(DRAIN_STATEMENT, []);
const run = (name: string) => [bindMessage(name, []), EXECUTE];
const CLOSE_ALL = OWN_STATEMENTS.map((n) => closeMessage('S', n));

/** A drain's answer, its rows as changes (in the order they came); also whether its Parse went through (the statement exists from then on). */
export class DrainCollect extends BudgetedCollect {
  parsed = false;
  taken: Change[] = [];

  /**
   * `link`: the client's connection the drain runs on, whose rows come in its client_encoding (client-encoding.ts),
   * as last reported when they arrive (a SET pipelined just ahead of the write is answered by then). `utf8`: the
   * drain asked for its text columns as the hex of their UTF-8 bytes instead (CaptureDialect.drainSqlUtf8).
   */
  constructor(budgeted = true, private readonly link: BackendLink | null = null, private readonly utf8 = false) {
    super(budgeted);
  }

  override onMessage(m: Message): void {
    if (m.type === 0x31 /* ParseComplete */) this.parsed = true;
    else if (m.type === 0x44 /* DataRow */) this.taken.push(drainedChange(m.bytes, this.utf8 ? 'hex' : decoderFor(this.link?.reported.get('client_encoding'))));
    else super.onMessage(m);
  }
}

/** A drain's DataRow (seq, tbl, op, pk, row[, txid]) as a change; `decode` 'hex': tbl, pk and row are the hex of their UTF-8 bytes. */
function drainedChange(b: Buffer, decode: Decode | 'hex' | null): Change {
  const n = b.readInt16BE(5);
  let i = 7;
  const col = (bytes: boolean, hex = false): string | Buffer | null => {
    const len = b.readInt32BE(i);
    i += 4;
    if (len < 0) return null;
    let v: string | Buffer;
    if (!decode) v = bytes ? rowValue(b, i, len) : b.toString('utf8', i, i + len);
    else if (decode === 'hex') {
      if (hex) {
        // two hex digits a byte (encode(…, 'hex'): whatever the session's bytea_output)
        const raw = Buffer.from(b.toString('latin1', i, i + len), 'hex');
        v = bytes && raw.length >= ROW_AS_BYTES ? raw : raw.toString('utf8');
      } else v = b.toString('utf8', i, i + len);
    } else {
      // the mirror takes UTF-8: a large row stays bytes, converted
      const text = decode(b, i, len);
      v = bytes && len >= ROW_AS_BYTES ? Buffer.from(text, 'utf8') : text;
    }
    i += len;
    return v;
  };
  const seq = col(false) as string;
  const tbl = col(false, true) as string;
  const op = col(false) as Change['op'];
  const pk = col(false, true) as string;
  const row = col(true, true);
  const txid = n > 5 ? (col(false) as string | null) : null;
  return { seq: Number(seq), tbl, op, pk, row, ...(txid ? { txid } : {}) };
}

export class DrainStatements {
  /** Server connections holding the statement, with the text it was prepared from. */
  private readonly prepared = new WeakMap<BackendLink, string>();
  /** Cleared when the client claims our name for a statement of its own: this session drains by simple Query. */
  private named = true;

  /**
   * Sends this transaction's drain on `link`; the answer arrives in the returned collector. `ahead`: a drain
   * ahead, more of the client's statements to come, whose rows wait for its COMMIT (not held to the drain budget:
   * DrainCollect); otherwise only the COMMIT follows. `lift`: the session may have timeouts or SERIALIZABLE
   * (dialect.untimed); without, the drain goes alone. `notUtf8`: the session's text may not be UTF-8 (Relay.readsUtf8).
   */
  request(link: BackendLink, dialect: CaptureDialect, ahead: boolean, lift: boolean, notUtf8 = false): DrainCollect {
    const commitNext = !ahead;
    // such a session gets the rows as UTF-8 bytes: in its own encoding a character it lacks, in a column the client
    // never read, failed the drain, and with it the COMMIT (40000)
    const utf8 = Boolean(dialect.drainSqlUtf8) && notUtf8;
    const drain = new DrainCollect(commitNext, link, utf8);
    const u = lift ? dialect.untimed : undefined;
    // in the drain's own segment: a timer armed for its first message is disarmed at the next once the setting is 0
    const before = u ? [commitNext ? u.commit : u.ahead[0]] : [];
    const after = u && !commitNext ? [u.ahead[1]] : [];
    if (!this.named || !dialect.preparedDrain || utf8) {
      link.request(queryMessage([...before, utf8 ? dialect.drainSqlUtf8! : dialect.drainSql, ...after].join('; ')), drain);
      return drain;
    }
    const parses = this.prepare(link, dialect);
    const names = u ? { before: commitNext ? LIFT : LIFT_AHEAD, after: commitNext ? [] : [RESTORE] } : { before: null, after: [] };
    link.request([
      ...(parses ?? []),
      ...(names.before ? run(names.before) : []),
      BIND, EXECUTE,
      ...names.after.flatMap(run),
      SYNC,
    ], drain);
    this.watch(link, drain, parses === null);
    return drain;
  }

  /**
   * Ahead of the mirror apply of rows drained ahead: the source waits idle in the transaction meanwhile, and the
   * client's timeouts are not for that wait (CaptureDialect.untimed.commit).
   */
  lift(link: BackendLink, dialect: CaptureDialect): void {
    const u = dialect.untimed;
    if (!u) return;
    if (!this.named || !dialect.preparedDrain) {
      link.request(queryMessage(u.commit), new Collect());
      return;
    }
    const parses = this.prepare(link, dialect);
    // a DrainCollect for its ParseComplete: no row comes
    const c = new DrainCollect(false, link);
    link.request([...(parses ?? []), ...run(LIFT), SYNC], c);
    this.watch(link, c, parses === null);
  }

  /** The Close and Parse messages that make the proxy's statements on `link`, or null when they are there. */
  private prepare(link: BackendLink, dialect: CaptureDialect): Buffer[] | null {
    const u = dialect.untimed;
    const texts: [string, string][] = [[DRAIN_STATEMENT, dialect.drainSql], ...(u ? [[LIFT, u.commit], [LIFT_AHEAD, u.ahead[0]], [RESTORE, u.ahead[1]]] as [string, string][] : [])];
    const key = texts.map(([, t]) => t).join('\0');
    if (this.prepared.get(link) === key) return null;
    // set now, not on the answer: a drain pipelined behind this one must not prepare again
    this.prepared.set(link, key);
    return [...CLOSE_ALL, ...texts.map(([name, text]) => parseMessage(name, text))];
  }

  private watch(link: BackendLink, answer: DrainCollect, known: boolean): void {
    void answer.done.then(
      () => {
        if (!known && !answer.parsed) this.prepared.delete(link);
        if (known && answer.error && parseErrorFields(answer.error.bytes.subarray(5)).C === '26000') {
          this.prepared.delete(link);
          this.named = false;
        }
      },
      () => this.prepared.delete(link),
    );
  }

  /** The client's DISCARD ALL, DEALLOCATE or Close may have dropped the statement wherever it ran. */
  forget(...links: (BackendLink | null)[]): void {
    for (const l of links) if (l) this.prepared.delete(l);
  }

  /**
   * The client is about to list its prepared statements (pg_prepared_statements),
   * where ours would show as one it never made (an ORM's count of its own, a
   * test's): ours is closed first on every connection holding it, and prepared
   * again by the next drain. Each Close goes with its own Sync, so only at a
   * boundary of the client's requests (the caller's to know).
   */
  hide(...links: (BackendLink | null)[]): void {
    for (const l of links) {
      if (!l || !this.prepared.has(l)) continue;
      this.prepared.delete(l);
      if (!l.lost) l.request([...CLOSE_ALL, SYNC], new Collect());
    }
  }

  /**
   * The client defines a statement under our name: ours is closed first on
   * every connection holding it (the client's Parse would fail otherwise), and
   * the session drains by simple Query from then on.
   */
  yieldName(...links: (BackendLink | null)[]): void {
    this.named = false;
    this.hide(...links);
  }
}
