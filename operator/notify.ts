// Outgoing notifications (Slack-compatible incoming-webhook JSON) when an ApprovalRequest
// is created or decided, so approvers learn of a held operation without watching the
// cluster. Sent by the operator because only its leader acts: one message per event.
// Delivery is best effort with retries and never touches admission.
import { readFileSync } from 'node:fs';
import type { ApprovalRequest } from '../api/types.js';
import { approveCommand } from '../lib/approval.js';
import type { Logger } from '../lib/log.js';

type NotifyEvent = 'created' | 'approved' | 'denied' | 'expired' | 'consumed';

interface SlackMessage {
  text: string;
  blocks: Array<{ type: 'section' | 'context'; text?: { type: 'mrkdwn'; text: string }; elements?: Array<{ type: 'mrkdwn'; text: string }> }>;
}

const MAX_PREVIEW = 1500;

/** The event an ApprovalRequest's change is worth a message for, if any. */
export function notifyEventFor(before: ApprovalRequest | undefined, after: ApprovalRequest): NotifyEvent | undefined {
  const was = before?.status?.phase ?? (before ? 'Pending' : undefined);
  const now = after.status?.phase ?? 'Pending';
  if (!before) return now === 'Pending' ? 'created' : undefined;
  if (was === now) return undefined;
  switch (now) {
    case 'Approved':
      return 'approved';
    case 'Denied':
      return 'denied';
    case 'Expired':
      return 'expired';
    case 'Consumed':
      return 'consumed';
    default:
      return undefined;
  }
}

// Slack mrkdwn treats <, > and & specially; everything shown comes from the cluster.
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The message for one event. Pure. */
export function buildMessage(ar: ApprovalRequest, event: NotifyEvent): SlackMessage {
  const name = ar.metadata.name ?? '';
  const ns = ar.metadata.namespace ?? '';
  const who = (ar.status?.approvals ?? []).map((a) => `${a.user} (${a.decision})`).join(', ');
  const headline: Record<NotifyEvent, string> = {
    created: `:hourglass: agent *${esc(ar.spec.agent)}* waits for approval: ${esc(ar.spec.summary)}`,
    approved: `:white_check_mark: approved: ${esc(ar.spec.summary)}${who ? ` — ${esc(who)}` : ''}`,
    denied: `:no_entry: denied: ${esc(ar.spec.summary)}${who ? ` — ${esc(who)}` : ''}`,
    expired: `:alarm_clock: expired without use: ${esc(ar.spec.summary)}`,
    consumed: `:arrow_forward: used once and closed: ${esc(ar.spec.summary)}`,
  };
  const text = headline[event];
  const blocks: SlackMessage['blocks'] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (event === 'created') {
    if (ar.spec.preview) {
      const preview = ar.spec.preview.length > MAX_PREVIEW ? `${ar.spec.preview.slice(0, MAX_PREVIEW)}…` : ar.spec.preview;
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${esc(preview)}\`\`\`` } });
    }
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `Approve: \`${approveCommand(name, ns)}\`\nDeny: \`${approveCommand(name, ns, false)}\`` },
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `ApprovalRequest ${esc(ns)}/${esc(name)} · ${ar.spec.type} · requested by ${esc(ar.spec.requestedBy)} · expires ${ar.spec.expiresAt}`,
      },
    ],
  });
  return { text, blocks };
}

interface NotifierOptions {
  /** A file holding the URL (a mounted Secret key), re-read on every send so rotation needs no restart. */
  urlFile?: string;
  url?: string;
  log: Logger;
  attempts?: number;
  baseDelayMs?: number;
  /** Messages waiting beyond this are dropped (logged), so a dead endpoint cannot grow memory. */
  maxQueue?: number;
  fetchImpl?: typeof fetch;
}

/** Sends messages one at a time with exponential backoff; never throws to its caller. */
export class Notifier {
  private queue: SlackMessage[] = [];
  private sending = false;
  readonly sent: number[] = [];
  failures = 0;

  constructor(private readonly opts: NotifierOptions) {}

  private url(): string | undefined {
    if (this.opts.url) return this.opts.url;
    if (!this.opts.urlFile) return undefined;
    try {
      return readFileSync(this.opts.urlFile, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  enqueue(msg: SlackMessage): void {
    if (this.queue.length >= (this.opts.maxQueue ?? 1000)) {
      this.opts.log.warn('notification dropped: queue full', { queued: this.queue.length });
      return;
    }
    this.queue.push(msg);
    if (!this.sending) void this.drain();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length) {
        const msg = this.queue.shift()!;
        await this.sendWithRetry(msg);
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendWithRetry(msg: SlackMessage): Promise<void> {
    const attempts = this.opts.attempts ?? 5;
    const doFetch = this.opts.fetchImpl ?? fetch;
    for (let i = 0; i < attempts; i++) {
      const url = this.url();
      if (!url) {
        this.opts.log.warn('notification not sent: no URL configured');
        return;
      }
      try {
        const res = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(msg),
          signal: AbortSignal.timeout(5000),
        });
        if (res.ok) {
          this.sent.push(Date.now());
          return;
        }
        // 4xx other than rate limiting will not get better by retrying.
        if (res.status < 500 && res.status !== 429) {
          this.failures++;
          this.opts.log.warn('notification refused', { status: res.status });
          return;
        }
      } catch (err) {
        this.opts.log.debug('notification attempt failed', { error: String(err), attempt: i + 1 });
      }
      await new Promise((r) => setTimeout(r, (this.opts.baseDelayMs ?? 500) * 2 ** i));
    }
    this.failures++;
    this.opts.log.warn('notification failed after retries', { attempts });
  }

  /** Resolves when everything queued has been sent or given up on (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.sending || this.queue.length) await new Promise((r) => setTimeout(r, 20));
  }
}
