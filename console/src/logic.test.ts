import { describe, expect, it } from 'vitest';
import {
  isConversing,
  socketUrl,
  type Call,
  type Progress,
  actionsFor,
  applyLive,
  analyticsQuery,
  answerRate,
  canOperate,
  capFill,
  chartData,
  clockOf,
  completion,
  costPerOutcome,
  costUsd,
  decodeUlaw,
  decodePcm16,
  Downsampler,
  etaSecs,
  flatten,
  formatDuration,
  formatFigure,
  formatShare,
  liveDurationSecs,
  modeAfterError,
  queuePicture,
  rejectionLines,
  timeline,
  totalsRows,
  transcriptTurns,
  ulawSample,
  words,
} from './logic';

const progress: Progress = {
  total: 20,
  pending: 7,
  waiting_window: 3,
  active: 4,
  finals: { no_answer: 2, completed: 5 },
  live_calls: { pending: 1, dialing: 1, ringing: 1, answered: 1 },
};

function call(over: Partial<Call>): Call {
  return {
    id: 'c1',
    campaign_id: 'camp',
    lead_id: 'l1',
    attempt: 1,
    to: '+12125550100',
    state: 'completed',
    created_at: '2026-06-01T15:00:00Z',
    ...over,
  };
}

describe('the queue picture', () => {
  it('splits pending from waiting for the window, live calls by state, and finals by outcome', () => {
    const picture = queuePicture(progress).map((s) => [s.key, s.count, s.kind]);
    expect(picture).toEqual([
      ['pending', 4, 'waiting'],
      ['waiting_window', 3, 'waiting'],
      ['dialing', 2, 'live'],
      ['ringing', 1, 'live'],
      ['in_call', 1, 'live'],
      ['done_completed', 5, 'done'],
      ['done_no_answer', 2, 'done'],
    ]);
  });

  it('keeps its shape for an empty campaign', () => {
    const empty = queuePicture({ total: 0, pending: 0, waiting_window: 0, active: 0, finals: {}, live_calls: {} });
    expect(empty.map((s) => s.count)).toEqual([0, 0, 0, 0, 0]);
    expect(completion({ ...progress, total: 0, finals: {} })).toBe(0);
  });

  it('tells completion and how full the cap is', () => {
    expect(completion(progress)).toBeCloseTo(7 / 20);
    expect(capFill(4, 5)).toEqual({ active: 4, cap: 5, share: 0.8 });
    expect(capFill(7, 5).share).toBe(1);
    expect(capFill(1, 0).share).toBe(0);
  });
});

describe('call figures', () => {
  const calls = [
    call({ id: 'a', answered_at: '2026-06-01T15:00:10Z', cost: 15_000, outcome: 'completed' }),
    call({ id: 'b', state: 'no_answer', cost: 0, outcome: { kind: 'no_answer' } }),
    call({ id: 'c', state: 'completed', answered_at: '2026-06-01T15:01:00Z', cost: 25_000, outcome: 'completed' }),
    call({ id: 'd', state: 'ringing', cost: null }),
  ];

  it('counts the answer rate over ended calls only', () => {
    expect(answerRate(calls)).toBeCloseTo(2 / 3);
    expect(answerRate([call({ state: 'dialing' })])).toBeNull();
  });

  it('sums cost in dollars and per outcome', () => {
    expect(costUsd(calls)).toBeCloseTo(0.04);
    expect(costPerOutcome(calls)).toEqual([
      { outcome: 'completed', calls: 2, usd: 0.04 },
      { outcome: 'no_answer', calls: 1, usd: 0 },
    ]);
  });

  it('times a live call from its answer and an ended one by its talk time', () => {
    const now = Date.parse('2026-06-01T15:00:40Z');
    expect(liveDurationSecs(call({ state: 'answered', answered_at: '2026-06-01T15:00:10Z' }), now)).toBe(30);
    expect(liveDurationSecs(call({ state: 'ringing' }), now)).toBe(40);
    expect(liveDurationSecs(call({ duration_secs: 12 }), now)).toBe(12);
  });

  it('estimates the time left at the pace so far', () => {
    const started = '2026-06-01T15:00:00Z';
    expect(etaSecs(progress, started, Date.parse('2026-06-01T15:07:00Z'))).toBe(13 * 60);
    expect(etaSecs(progress, null, Date.now())).toBeNull();
    expect(etaSecs({ ...progress, finals: {} }, started, Date.now())).toBeNull();
  });

  it('lays out the timeline oldest first, post-call stages included', () => {
    const t = timeline(
      call({
        answered_at: '2026-06-01T15:00:10Z',
        answered_by: 'human',
        ended_at: '2026-06-01T15:01:00Z',
        outcome: 'completed',
        post_call: { transcript: { status: 'done', done_at: '2026-06-01T15:02:00Z' }, analysis: null },
      }),
    );
    expect(t.map((e) => e.what)).toEqual([
      'dial decided (compliance record written)',
      'answered (human)',
      'ended: completed',
      'transcript: done',
    ]);
  });
});

describe('formatting', () => {
  it('reads durations, shares and figures as people do', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
    expect(formatDuration(null)).toBe('—');
    expect(formatShare(0.456)).toBe('46%');
    expect(formatFigure('answer_rate', 0.5)).toBe('50%');
    expect(formatFigure('cost_usd', 1.5)).toBe('$1.5000');
    expect(formatFigure('average_handle_secs', 65)).toBe('1m 05s');
    expect(formatFigure('calls', 12)).toBe('12');
    expect(words('no_answer')).toBe('no answer');
    expect(words({ kind: 'x' })).toBe('{"kind":"x"}');
  });

  it('flattens nested records into dotted fields', () => {
    expect(flatten({ a: 1, b: { c: 'x', d: [1, 2] }, e: null })).toEqual([
      ['a', '1'],
      ['b.c', 'x'],
      ['b.d', '1, 2'],
    ]);
  });

  it('reads transcript turns of either shape', () => {
    const turns = [{ speaker: 'agent', start_ms: 1500, text: 'Hello' }, { role: 'caller', start_secs: 65, text: 'Hi' }];
    expect(transcriptTurns({ turns })).toEqual([
      { speaker: 'agent', at: '2s', text: 'Hello' },
      { speaker: 'caller', at: '1m 05s', text: 'Hi' },
    ]);
    expect(transcriptTurns({ segments: turns })).toHaveLength(2);
    expect(transcriptTurns(null)).toEqual([]);
  });

  it('numbers the refused CSV lines', () => {
    expect(rejectionLines({ rejected: [{ line: 3, reason: 'not a phone number' }] })).toEqual([
      'line 3: not a phone number',
    ]);
    expect(rejectionLines({})).toEqual([]);
  });
});

describe('analytics', () => {
  const answer = {
    series: [
      { start: '2026-06-01T16:00:00Z', calls: 4, answered: 1, cost_usd: 0.2, label: 'x' },
      { start: '2026-06-01T15:00:00Z', calls: 3, answered: 2, quality: 0.7 },
    ],
    totals: { calls: 7, answered: 3, answer_rate: 3 / 7, name: 'ignored' },
  };

  it('turns every numeric field into a chart column, in time order, calls first', () => {
    const chart = chartData(answer);
    expect(chart.x).toEqual([Date.parse('2026-06-01T15:00:00Z') / 1000, Date.parse('2026-06-01T16:00:00Z') / 1000]);
    expect(chart.fields.map((f) => f.name)).toEqual(['calls', 'answered', 'cost_usd', 'quality']);
    expect(chart.fields[2].values).toEqual([null, 0.2]);
    expect(chartData({ series: [], totals: {} }).fields).toEqual([]);
  });

  it('shows the numeric totals as rows', () => {
    expect(totalsRows(answer.totals)).toEqual([
      { name: 'answer rate', value: '43%' },
      { name: 'answered', value: '3' },
      { name: 'calls', value: '7' },
    ]);
  });

  it('leaves empty filters out of the query', () => {
    expect(analyticsQuery({ from: 'a', to: '', bucket: 'hour', provider: undefined })).toBe('from=a&bucket=hour');
  });
});

describe('live mode and roles', () => {
  it('falls back to polling only when the stream failed before its first event', () => {
    expect(modeAfterError('stream', 0)).toBe('poll');
    expect(modeAfterError('stream', 3)).toBe('stream');
    expect(modeAfterError('poll', 0)).toBe('poll');
  });

  it('offers the actions that fit the status, to operators and admins', () => {
    expect(actionsFor('running')).toEqual(['pause', 'cancel']);
    expect(actionsFor('paused')).toEqual(['resume', 'cancel']);
    expect(actionsFor('completed')).toEqual([]);
    expect(canOperate('viewer')).toBe(false);
    expect(canOperate('operator')).toBe(true);
  });
});

describe('live call cards', () => {
  it('keep one line per index, in order, the latest text winning', () => {
    let card = applyLive(undefined, { call_id: 'c', type: 'line', index: 1, speaker: 'caller', at_ms: 2500, transcript: 'Yes' });
    card = applyLive(card, { call_id: 'c', type: 'line', index: 0, speaker: 'agent', at_ms: 0, transcript: 'Hel' });
    card = applyLive(card, { call_id: 'c', type: 'line', index: 0, speaker: 'agent', at_ms: 0, transcript: 'Hello' });
    expect(card.lines.map((l) => [l.index, l.text])).toEqual([
      [0, 'Hello'],
      [1, 'Yes'],
    ]);
    expect(clockOf(card.lines[1].atMs)).toBe('0:02');
  });

  it('count fillers and barge-ins and keep the verdict and state', () => {
    let card = applyLive(undefined, { call_id: 'c', type: 'filler', count: 2 });
    card = applyLive(card, { call_id: 'c', type: 'filler', count: 1 });
    card = applyLive(card, { call_id: 'c', type: 'barge_in', count: 1 });
    card = applyLive(card, { call_id: 'c', type: 'amd', verdict: 'human', source: 'local' });
    card = applyLive(card, { call_id: 'c', type: 'state', state: 'listening' });
    expect(card).toMatchObject({ fillers: 2, bargeIns: 1, amd: 'human (local)', state: 'listening' });
  });
});

describe('μ-law', () => {
  it('decodes G.711 bytes to linear samples', () => {
    expect(ulawSample(0xff)).toBe(0);
    expect(Math.abs(ulawSample(0x7f))).toBe(0);
    expect(ulawSample(0x80) * 32768).toBe(32124);
    expect(ulawSample(0x00) * 32768).toBe(-32124);
    // A mid-range code: exponent 4, mantissa 5 → ((5 << 3) + 0x84) << 4) - 0x84.
    expect(ulawSample(~0xc5 & 0xff) * 32768).toBe(-(((5 << 3) + 0x84) << 4) + 0x84);
    expect(Array.from(decodeUlaw(new Uint8Array([0xff, 0x80])))).toEqual([0, 32124 / 32768]);
  });
});

describe('test call audio', () => {
  it('decodes little-endian 16-bit PCM', () => {
    const bytes = new Uint8Array([0x00, 0x00, 0xff, 0x7f, 0x00, 0x80]).buffer;
    expect(Array.from(decodePcm16(bytes))).toEqual([0, 32767 / 32768, -1]);
  });

  it('brings 48 kHz down to 8 kHz, averaging, across blocks', () => {
    const d = new Downsampler(48000);
    // 9 samples: one full output (6 inputs), 3 carried over
    const first = d.push(new Float32Array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.5, -0.5, -0.5]));
    expect(Array.from(first)).toEqual([Math.round(0.5 * 32767)]);
    const second = d.push(new Float32Array([-0.5, -0.5, -0.5]));
    expect(Array.from(second)).toEqual([Math.round(-0.5 * 32767)]);
  });

  it('keeps the rate for a fractional ratio (44.1 kHz)', () => {
    const d = new Downsampler(44100);
    let n = 0;
    for (let block = 0; block < 10; block += 1) n += d.push(new Float32Array(4410)).length;
    // one second in, 8000 samples out (give or take the last one)
    expect(Math.abs(n - 8000)).toBeLessThanOrEqual(1);
  });

  it('clips what is out of range', () => {
    const d = new Downsampler(8000);
    expect(Array.from(d.push(new Float32Array([2, -2])))).toEqual([32767, -32767]);
  });
});

describe('socketUrl', () => {
  it('opens an absolute ticket URL (the media domain) as it is', () => {
    const url = 'wss://media.example.com/v1/calls/c1/live?ticket=vxt1.a.1.b';
    expect(socketUrl(url, { protocol: 'https:', host: 'api.example.com' })).toBe(url);
  });
  it('opens a path on the page\'s own origin, wss under https', () => {
    const path = '/v1/calls/c1/listen?ticket=vxt1.a.1.b';
    expect(socketUrl(path, { protocol: 'http:', host: '127.0.0.1:8080' })).toBe(`ws://127.0.0.1:8080${path}`);
    expect(socketUrl(path, { protocol: 'https:', host: 'console.example.com' })).toBe(`wss://console.example.com${path}`);
  });
});

describe('isConversing', () => {
  it('is true from the answer on, while the bridge holds the call', () => {
    const call = (state: string) => ({ state }) as Parameters<typeof isConversing>[0];
    expect(isConversing(call('answered'))).toBe(true);
    for (const state of ['dialing', 'ringing', 'completed', 'voicemail']) expect(isConversing(call(state))).toBe(false);
  });
});
