// The console's page logic: pure functions from the API's JSON to what the
// pages show. No DOM here, so vitest checks every figure.

/** A campaign's counts (`progress` of GET /v1/campaigns/{id}). */
export interface Progress {
  total: number;
  pending: number;
  waiting_window: number;
  active: number;
  finals: Record<string, number>;
  live_calls: Record<string, number>;
  next_due_at?: string | null;
}

/** A call attempt as the API shows it (fields the console reads). */
export interface Call {
  id: string;
  campaign_id: string;
  lead_id: string;
  attempt: number;
  to: string;
  from?: string | null;
  provider?: string | null;
  state: string;
  created_at: string;
  answered_at?: string | null;
  ended_at?: string | null;
  answered_by?: string | null;
  duration_secs?: number | null;
  cost?: number | null;
  disposition?: string | null;
  outcome?: string | { kind: string } | null;
  failure?: string | null;
  compliance?: Record<string, unknown>;
  conversation?: Record<string, unknown> | null;
  transfer?: Record<string, unknown> | null;
  post_call?: Record<string, unknown> | null;
  [field: string]: unknown;
}

/** A call's outcome label (`{"kind": …}` in the API), else its state. */
export function outcomeOf(call: Call): string {
  const o = call.outcome;
  if (typeof o === 'string') return o;
  if (o && typeof o.kind === 'string') return o.kind;
  return call.state;
}

/** The states of a call still in progress. */
export const LIVE_STATES = ['pending', 'dialing', 'ringing', 'answered'];

/** Whether a call is still in progress. */
export function isLive(call: Call): boolean {
  return LIVE_STATES.includes(call.state);
}

/**
 * Whether a call's conversation runs, so that its live events can be
 * watched (the bridge holds it from the answer on; before, its socket
 * would only answer 409).
 */
export function isConversing(call: Call): boolean {
  return call.state === 'answered';
}

/** One bar of the queue picture. */
export interface Segment {
  key: string;
  label: string;
  count: number;
  kind: 'waiting' | 'live' | 'done';
}

const OUTCOME_LABELS: Record<string, string> = {
  completed: 'completed',
  no_answer: 'no answer',
  busy: 'busy',
  voicemail: 'voicemail',
  failed: 'failed',
  screened_out: 'screened out',
  exhausted: 'retries exhausted',
};

/** Words for a snake_case label. */
export function words(label: unknown): string {
  const text = typeof label === 'string' ? label : JSON.stringify(label) ?? '—';
  return OUTCOME_LABELS[text] ?? text.replace(/_/g, ' ');
}

/**
 * The queue as a picture, left to right: pending (due now), waiting for
 * the calling window, dialing, ringing, in call, then the final leads by
 * outcome. Empty segments stay (with 0) so the picture keeps its shape.
 */
export function queuePicture(p: Progress): Segment[] {
  const live = p.live_calls ?? {};
  const due = Math.max(0, p.pending - p.waiting_window);
  const segments: Segment[] = [
    { key: 'pending', label: 'pending', count: due, kind: 'waiting' },
    { key: 'waiting_window', label: 'waiting for window', count: p.waiting_window, kind: 'waiting' },
    { key: 'dialing', label: 'dialing', count: (live.pending ?? 0) + (live.dialing ?? 0), kind: 'live' },
    { key: 'ringing', label: 'ringing', count: live.ringing ?? 0, kind: 'live' },
    { key: 'in_call', label: 'in call', count: live.answered ?? 0, kind: 'live' },
  ];
  for (const [outcome, count] of Object.entries(p.finals ?? {}).sort()) {
    segments.push({ key: `done_${outcome}`, label: `done: ${words(outcome)}`, count, kind: 'done' });
  }
  return segments;
}

/** Final leads. */
export function finalTotal(p: Progress): number {
  return Object.values(p.finals ?? {}).reduce((a, b) => a + b, 0);
}

/** Share of leads that are final, 0..1 (0 for an empty campaign). */
export function completion(p: Progress): number {
  return p.total > 0 ? finalTotal(p) / p.total : 0;
}

/** How full the concurrency cap is. */
export function capFill(active: number, cap: number): { active: number; cap: number; share: number } {
  const share = cap > 0 ? Math.min(1, active / cap) : 0;
  return { active, cap, share };
}

/** Answered calls per ended call, or null before any call ended. */
export function answerRate(calls: Call[]): number | null {
  const ended = calls.filter((c) => !isLive(c));
  if (ended.length === 0) return null;
  return ended.filter((c) => c.answered_at).length / ended.length;
}

/** The cost of `calls` in US dollars (the API counts millionths). */
export function costUsd(calls: Call[]): number {
  return calls.reduce((sum, c) => sum + (c.cost ?? 0), 0) / 1_000_000;
}

/** Cost per outcome: dollars spent on the calls that ended with each outcome. */
export function costPerOutcome(calls: Call[]): Array<{ outcome: string; calls: number; usd: number }> {
  const by = new Map<string, { calls: number; micros: number }>();
  for (const c of calls) {
    if (isLive(c)) continue;
    const key = outcomeOf(c);
    const row = by.get(key) ?? { calls: 0, micros: 0 };
    row.calls += 1;
    row.micros += c.cost ?? 0;
    by.set(key, row);
  }
  return [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, r]) => ({ outcome, calls: r.calls, usd: r.micros / 1_000_000 }));
}

/**
 * Seconds until every lead is final at the pace so far (final leads since
 * `startedAt`), or null when it cannot be told yet.
 */
export function etaSecs(p: Progress, startedAt: string | null | undefined, nowMs: number): number | null {
  const done = finalTotal(p);
  if (!startedAt || done === 0) return null;
  const elapsed = (nowMs - Date.parse(startedAt)) / 1000;
  if (!(elapsed > 0)) return null;
  const open = Math.max(0, p.total - done);
  return open === 0 ? 0 : Math.round((open * elapsed) / done);
}

/** `1h 02m`, `3m 05s`, `42s`. */
export function formatDuration(secs: number | null | undefined): string {
  if (secs == null || !Number.isFinite(secs)) return '—';
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${two(m)}m`;
  if (m > 0) return `${m}m ${two(r)}s`;
  return `${r}s`;
}

/** `$1.2345` (four decimals: calls cost fractions of a cent). */
export function formatUsd(usd: number | null | undefined): string {
  return usd == null || !Number.isFinite(usd) ? '—' : `$${usd.toFixed(4)}`;
}

/** `42%` or `—`. */
export function formatShare(share: number | null | undefined): string {
  return share == null || !Number.isFinite(share) ? '—' : `${Math.round(share * 100)}%`;
}

/** How long a live call has lasted (from answer, else from dialling). */
export function liveDurationSecs(call: Call, nowMs: number): number {
  if (call.duration_secs != null && !isLive(call)) return call.duration_secs;
  const from = Date.parse(call.answered_at ?? call.created_at);
  return Math.max(0, (nowMs - from) / 1000);
}

/** One line of a call's status timeline. */
export interface TimelineEntry {
  at: string;
  what: string;
}

/** The call's status timeline, oldest first, from the times it records. */
export function timeline(call: Call): TimelineEntry[] {
  const out: TimelineEntry[] = [{ at: call.created_at, what: 'dial decided (compliance record written)' }];
  if (call.answered_at) out.push({ at: call.answered_at, what: `answered${call.answered_by ? ` (${words(call.answered_by)})` : ''}` });
  if (call.ended_at) out.push({ at: call.ended_at, what: `ended: ${words(outcomeOf(call))}` });
  const post = (call.post_call ?? {}) as Record<string, Record<string, unknown> | null>;
  for (const [stage, record] of Object.entries(post)) {
    if (!record || typeof record !== 'object') continue;
    const at = (record.done_at ?? record.updated_at ?? record.at) as string | undefined;
    const status = record.status as string | undefined;
    if (at) out.push({ at, what: `${words(stage)}${status ? `: ${words(status)}` : ''}` });
  }
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** One turn of a transcript as the console shows it. */
export interface Turn {
  speaker: string;
  at: string;
  text: string;
}

/**
 * The turns of a stored transcript, whatever its exact shape: a list of
 * turns, or an object with `turns` / `segments`; each turn's speaker
 * (`speaker` / `role` / `channel`), start (`start_ms` / `start_secs` /
 * `start`) and text.
 */
export function transcriptTurns(value: unknown): Turn[] {
  const obj = value as Record<string, unknown> | null;
  const list = Array.isArray(value) ? value : Array.isArray(obj?.turns) ? obj?.turns : Array.isArray(obj?.segments) ? obj?.segments : [];
  return (list as Array<Record<string, unknown>>).map((t) => {
    const ms = typeof t.start_ms === 'number' ? t.start_ms : typeof t.start_secs === 'number' ? t.start_secs * 1000 : typeof t.start === 'number' ? t.start * 1000 : null;
    return {
      speaker: String(t.speaker ?? t.role ?? t.channel ?? '—'),
      at: ms === null ? '' : formatDuration(ms / 1000),
      text: String(t.text ?? t.content ?? ''),
    };
  });
}

/** A flat list of `[field, value]` for any JSON object (nested keys dotted). */
export function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (value === null || value === undefined) return [];
  if (typeof value !== 'object') return [[prefix || 'value', String(value)]];
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) return [[prefix, value.join(', ')]];
    return value.flatMap((v, i) => flatten(v, `${prefix}[${i}]`));
  }
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    flatten(v, prefix ? `${prefix}.${k}` : k),
  );
}

/** The analytics answer of `GET /v1/analytics`. */
export interface Analytics {
  series: Array<Record<string, unknown> & { start: string }>;
  totals: Record<string, unknown>;
}

/** Columns of the analytics series ready for a chart: x in Unix seconds. */
export interface ChartData {
  x: number[];
  fields: Array<{ name: string; values: Array<number | null> }>;
}

/**
 * The series as chart columns: every field that is a number in some
 * bucket becomes a line (calls and answered first), missing values null.
 */
export function chartData(a: Analytics): ChartData {
  const series = [...(a.series ?? [])].sort((p, q) => Date.parse(p.start) - Date.parse(q.start));
  const names = new Set<string>();
  for (const bucket of series) {
    for (const [k, v] of Object.entries(bucket)) {
      if (k !== 'start' && typeof v === 'number' && Number.isFinite(v)) names.add(k);
    }
  }
  const rank = (n: string) => (n === 'calls' ? 0 : n === 'answered' ? 1 : 2);
  const ordered = [...names].sort((p, q) => rank(p) - rank(q) || p.localeCompare(q));
  return {
    x: series.map((b) => Date.parse(b.start) / 1000),
    fields: ordered.map((name) => ({
      name,
      values: series.map((b) => (typeof b[name] === 'number' ? (b[name] as number) : null)),
    })),
  };
}

/** The totals as table rows: numbers only, names in words, sorted. */
export function totalsRows(totals: Record<string, unknown>): Array<{ name: string; value: string }> {
  return Object.entries(totals ?? {})
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => ({ name: words(k), value: formatFigure(k, v as number) }));
}

/** A figure as a person reads it: shares as %, money as $, counts plain. */
export function formatFigure(name: string, value: number): string {
  if (/(rate|ratio|share)$/.test(name) && value >= 0 && value <= 1) return formatShare(value);
  if (/usd/.test(name)) return formatUsd(value);
  if (/secs$/.test(name)) return formatDuration(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** The query string of an analytics request; empty filters left out. */
export function analyticsQuery(f: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) params.set(k, v);
  return params.toString();
}

/** One refused CSV row as shown: `line 4: the number is not valid`. */
export function rejectionLines(report: { rejected?: Array<{ line: number; reason?: string; error?: string; message?: string }> }): string[] {
  return (report.rejected ?? []).map((r) => `line ${r.line}: ${r.reason ?? r.error ?? r.message ?? 'refused'}`);
}

/**
 * How a page follows a campaign: a server-sent event stream, or short
 * polling where the API cannot stream (AWS: a Lambda behind an HTTP API).
 * The stream is given up for polling when it fails before its first event.
 */
export type LiveMode = 'stream' | 'poll';

/** The mode after a stream error: polling when no event ever came. */
export function modeAfterError(mode: LiveMode, eventsSeen: number): LiveMode {
  return mode === 'stream' && eventsSeen === 0 ? 'poll' : mode;
}

/** The campaign actions that fit a status (what the buttons offer). */
export function actionsFor(status: string): string[] {
  switch (status) {
    case 'draft':
      return ['start', 'cancel'];
    case 'running':
      return ['pause', 'cancel'];
    case 'paused':
      return ['resume', 'cancel'];
    default:
      return [];
  }
}

/** Whether a role may act (operators and admins), or only read. */
export function canOperate(role: string | undefined): boolean {
  return role === 'operator' || role === 'admin';
}

/** A `live` event of the campaign stream: one call's line, state, verdict, filler or barge-in. */
export interface LiveMessage {
  call_id: string;
  type: 'line' | 'state' | 'amd' | 'filler' | 'barge_in';
  index?: number;
  speaker?: string;
  at_ms?: number;
  transcript?: string;
  state?: string;
  verdict?: string;
  source?: string;
  count?: number;
}

/** What a live call card shows beside the call record, from the live events. */
export interface LiveCard {
  lines: Array<{ index: number; speaker: string; atMs: number; text: string }>;
  state?: string;
  amd?: string;
  fillers: number;
  bargeIns: number;
}

/**
 * The WebSocket URL of a media ticket's `url`: an absolute one (the media
 * domain, on AWS) as it is, a path on this page's own origin otherwise.
 */
export function socketUrl(url: string, page: { protocol: string; host: string }): string {
  if (/^wss?:\/\//.test(url)) return url;
  const scheme = page.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${page.host}${url}`;
}

/** The card after one live event: a line replaces the line of its index (kept in order). */
export function applyLive(card: LiveCard | undefined, m: LiveMessage): LiveCard {
  const next: LiveCard = card
    ? { ...card, lines: [...card.lines] }
    : { lines: [], fillers: 0, bargeIns: 0 };
  switch (m.type) {
    case 'line': {
      const line = { index: m.index ?? 0, speaker: m.speaker ?? '', atMs: m.at_ms ?? 0, text: m.transcript ?? '' };
      const at = next.lines.findIndex((l) => l.index >= line.index);
      if (at < 0) next.lines.push(line);
      else if (next.lines[at].index === line.index) next.lines[at] = line;
      else next.lines.splice(at, 0, line);
      break;
    }
    case 'state':
      next.state = m.state;
      break;
    case 'amd':
      next.amd = `${m.verdict ?? ''} (${m.source ?? ''})`;
      break;
    case 'filler':
      next.fillers = Math.max(next.fillers, m.count ?? 0);
      break;
    case 'barge_in':
      next.bargeIns = Math.max(next.bargeIns, m.count ?? 0);
      break;
  }
  return next;
}

/** A call time in ms as m:ss. */
export function clockOf(ms: number): string {
  const secs = Math.floor(ms / 1000);
  return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
}

/** One G.711 μ-law byte as a linear sample in [-1, 1). */
export function ulawSample(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return (u & 0x80 ? -magnitude : magnitude) / 32768;
}

/** A buffer of μ-law bytes as linear samples. */
export function decodeUlaw(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) out[i] = ulawSample(bytes[i]);
  return out;
}

/** Samples per second of a test call's audio, both ways (16-bit PCM). */
export const TEST_CALL_RATE = 8000;

/** Little-endian 16-bit PCM as linear samples. */
export function decodePcm16(bytes: ArrayBuffer): Float32Array {
  const view = new DataView(bytes);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i += 1) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

/**
 * Turns the microphone's samples (at the audio context's rate) into 16-bit
 * PCM at 8 kHz: each output sample is the mean of the input samples it
 * spans (a box filter against aliasing), the fraction carried between
 * calls so that blocks of any length join seamlessly.
 */
export class Downsampler {
  private readonly step: number;
  private acc = 0;
  private count = 0;
  private pos = 0;

  constructor(inputRate: number) {
    this.step = inputRate / TEST_CALL_RATE;
  }

  /** The 8 kHz samples `input` completes. */
  push(input: Float32Array): Int16Array {
    const out: number[] = [];
    for (let i = 0; i < input.length; i += 1) {
      this.acc += input[i];
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.pos -= this.step;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        out.push(Math.round(v * 32767));
        this.acc = 0;
        this.count = 0;
      }
    }
    return Int16Array.from(out);
  }
}
