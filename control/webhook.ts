// The alert webhook: one JSON POST per event, fire-and-forget with a timeout.
// It never blocks or fails the caller. Webhook URLs often carry their secret
// in the path or query (Slack, Teams), so only the origin is ever shown.
import type { Logger } from '../common/log.ts';

export function webhookLabel(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid webhook URL)';
  }
}

export function postWebhook(url: string | undefined, body: Record<string, unknown>, log: Logger, timeoutMs = 3_000): void {
  if (!url) return;
  const label = webhookLabel(url);
  // fetch refuses a URL with a user and password in it: they go as Basic authentication, as curl sends them
  let target = url;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'cutover' };
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
      u.username = '';
      u.password = '';
      target = u.toString();
    }
  } catch {
    // not a URL: fetch says so, and the failure is logged below
  }
  void fetch(target, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  })
    .then((res) => {
      if (res.ok) log.info({ webhook: label, status: res.status }, 'alert webhook called');
      else log.warn({ webhook: label, status: res.status }, 'alert webhook answered with an error');
      return res.body?.cancel();
    })
    .catch((e: Error) => log.warn({ webhook: label, reason: e.name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : e.message.replace(url, label).replace(target, label) }, 'alert webhook failed'));
}
