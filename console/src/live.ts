// Following a campaign live: the server-sent event stream of
// GET /v1/campaigns/{id}/events, or, where the API cannot stream (AWS),
// GET /v1/campaigns/{id}/snapshot every second. A live call's events
// (transcript lines, verdicts, fillers, barge-ins) come over its own
// socket, GET /v1/calls/{id}/live, opened with a ticket where the call is
// held: this server locally, the media domain on AWS.

import { api, mediaSocket } from './api';
import { type LiveMessage, type LiveMode, modeAfterError } from './logic';

/** How often the polling fallback asks, in milliseconds. */
export const POLL_MS = 1000;

/** How many times a call's socket is opened again after it was refused or cut. */
export const WATCH_TRIES = 5;

/** How long to wait before opening it again, in milliseconds. */
export const WATCH_RETRY_MS = 1000;

/** A campaign snapshot: campaign, progress, newest calls. */
export type Snapshot = Record<string, unknown>;

/** Follows a campaign; returns a function that stops following. */
export function follow(
  campaignId: string,
  onSnapshot: (s: Snapshot, mode: LiveMode) => void,
  onProblem: (message: string) => void,
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

/**
 * Follows one live call's events; returns a function that stops. A socket
 * refused or cut while the call goes on (on AWS, a socket opened in the
 * second before the holding task's first fleet report answers 409) is
 * opened again with a new ticket, a few times.
 */
export function watchCall(callId: string, onLive: (m: LiveMessage) => void): () => void {
  let stopped = false;
  let socket: WebSocket | null = null;
  let timer: number | undefined;
  let tries = 0;
  const again = () => {
    if (!stopped && tries < WATCH_TRIES) timer = window.setTimeout(() => void open(), WATCH_RETRY_MS);
  };
  const open = async () => {
    tries += 1;
    try {
      socket = await mediaSocket(`/v1/calls/${encodeURIComponent(callId)}/live`);
    } catch {
      again();
      return;
    }
    if (stopped) {
      socket.close(1000, 'left');
      return;
    }
    socket.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      tries = 0;
      onLive(JSON.parse(e.data) as LiveMessage);
    };
    // 1000: the call ended.
    socket.onclose = (e) => {
      if (e.code !== 1000) again();
    };
  };
  void open();
  return () => {
    stopped = true;
    if (timer !== undefined) window.clearTimeout(timer);
    socket?.close(1000, 'left');
  };
}
