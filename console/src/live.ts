// Following a campaign live: the server-sent event stream of
// GET /v1/campaigns/{id}/events, or, where the API cannot stream (AWS),
// GET /v1/campaigns/{id}/snapshot every second.

import { api } from './api';
import { type LiveMessage, type LiveMode, modeAfterError } from './logic';

/** How often the polling fallback asks, in milliseconds. */
export const POLL_MS = 1000;

/** A campaign snapshot: campaign, progress, newest calls. */
export type Snapshot = Record<string, unknown>;

/**
 * Follows a campaign; returns a function that stops following. `onLive`
 * gets the live calls' events (transcript lines, verdicts, fillers,
 * barge-ins), which only the stream carries.
 */
export function follow(
  campaignId: string,
  onSnapshot: (s: Snapshot, mode: LiveMode) => void,
  onProblem: (message: string) => void,
  onLive?: (m: LiveMessage) => void,
): () => void {
  let mode: LiveMode = typeof EventSource === 'undefined' ? 'poll' : 'stream';
  let seen = 0;
  let stopped = false;
  let source: EventSource | null = null;
  let timer: number | undefined;
  const id = encodeURIComponent(campaignId);

  const poll = async () => {
    if (stopped) return;
    try {
      onSnapshot(await api<Snapshot>('GET', `/v1/campaigns/${id}/snapshot`), 'poll');
    } catch (e) {
      onProblem(String((e as Error).message ?? e));
    }
    if (!stopped) timer = window.setTimeout(poll, POLL_MS);
  };

  if (mode === 'stream') {
    source = new EventSource(`/v1/campaigns/${id}/events`);
    source.addEventListener('snapshot', (e) => {
      seen += 1;
      onSnapshot(JSON.parse((e as MessageEvent).data), 'stream');
    });
    source.addEventListener('live', (e) => onLive?.(JSON.parse((e as MessageEvent).data)));
    source.addEventListener('problem', (e) => onProblem(JSON.parse((e as MessageEvent).data).error));
    source.onerror = () => {
      mode = modeAfterError(mode, seen);
      if (mode === 'poll') {
        source?.close();
        source = null;
        void poll();
      }
    };
  } else {
    void poll();
  }

  return () => {
    stopped = true;
    source?.close();
    if (timer !== undefined) window.clearTimeout(timer);
  };
}
