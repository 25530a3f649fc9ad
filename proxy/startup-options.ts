// The `options` start-up parameter (libpq's PGOPTIONS, node-postgres's and
// JDBC's `options`) carries command-line settings for the server:
// `-c name=value` or `--name=value`, split at unescaped white space, `\`
// escaping the next character (PostgreSQL's pg_split_opts). Most clients
// cannot send a start-up parameter of their own, so `cutover.route` given
// there is the proxy's; it is taken out before the rest goes to the server.
const ROUTE = 'cutover.route';

function split(options: string): string[] {
  const out: string[] = [];
  let cur = '';
  let any = false;
  for (let i = 0; i < options.length; i++) {
    const ch = options[i]!;
    if (ch === '\\' && i + 1 < options.length) {
      cur += options[++i];
      any = true;
    } else if (/\s/.test(ch)) {
      if (any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (any) out.push(cur);
  return out;
}

const escape = (arg: string) => arg.replace(/[\\\s]/g, (c) => `\\${c}`);

/** `options` without its cutover.route setting, and that setting's value (the last one given). */
export function takeRouteOption(options: string): { route?: string; rest: string } {
  const args = split(options);
  const kept: string[] = [];
  let route: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let setting: string | null = null;
    let used = 1;
    if (a === '-c' && i + 1 < args.length) {
      setting = args[i + 1]!;
      used = 2;
    } else if (a.startsWith('-c')) setting = a.slice(2);
    else if (a.startsWith('--')) setting = a.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting !== null && eq > 0 && setting.slice(0, eq).toLowerCase().replace(/-/g, '_') === ROUTE) {
      route = setting.slice(eq + 1);
      i += used - 1;
      continue;
    }
    kept.push(...args.slice(i, i + used));
    i += used - 1;
  }
  return { ...(route !== undefined ? { route } : {}), rest: kept.map(escape).join(' ') };
}
