// The voxdial console: a hash-routed single page over the /v1 API.

import './style.css';
import { ApiError, type Whoami, api, signIn, signOut, whoami } from './api';
import { figures, fill, h } from './dom';
import { listen } from './listen';
import { follow, type Snapshot, watchCall } from './live';
import { type TestCallEvent, testCall } from './testcall';
import {
  type Analytics,
  type Call,
  type Progress,
  actionsFor,
  analyticsQuery,
  answerRate,
  canOperate,
  capFill,
  completion,
  costPerOutcome,
  costUsd,
  etaSecs,
  finalTotal,
  flatten,
  formatDuration,
  formatShare,
  formatUsd,
  isConversing,
  isLive,
  type LiveCard,
  type LiveMessage,
  applyLive,
  clockOf,
  liveDurationSecs,
  outcomeOf,
  queuePicture,
  rejectionLines,
  timeline,
  totalsRows,
  transcriptTurns,
  words,
} from './logic';

interface Campaign {
  id: string;
  status: string;
  started_at?: string | null;
  settings: { name: string; max_concurrency: number; agent_id?: string };
}

const app = document.getElementById('app') as HTMLElement;
let me: Whoami | null = null;
/** Stops whatever the current page follows (streams, timers). */
let leave: () => void = () => {};

function problem(e: unknown): HTMLElement {
  const message = e instanceof ApiError ? `${e.message} (${e.status})` : String(e);
  return h('p', { class: 'problem', role: 'alert' }, message);
}

function link(href: string, text: string): HTMLAnchorElement {
  return h('a', { href }, text);
}

function layout(title: string, ...content: Array<Node | null>): HTMLElement {
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    h(
      'ul',
      {},
      [
        ['#/campaigns', 'Campaigns'],
        ['#/agents', 'Human agents'],
        ['#/ai-agents', 'AI agents'],
        ['#/providers', 'Providers'],
        ['#/analytics', 'Analytics'],
      ].map(([href, text]) =>
        h('li', {}, h('a', { href, 'aria-current': location.hash.startsWith(href) ? 'page' : undefined }, text)),
      ),
    ),
    h(
      'p',
      { class: 'who' },
      me ? `${me.role} · ${me.org_id} ` : '',
      h('button', { type: 'button', onclick: onSignOut }, 'Sign out'),
    ),
  );
  const heading = h('h1', { tabindex: '-1' }, title);
  const main = h('main', { id: 'main' }, heading, ...content);
  fill(app, h('header', {}, h('a', { class: 'brand', href: '#/campaigns' }, 'voxdial'), nav), main);
  heading.focus();
  return main;
}

async function onSignOut(): Promise<void> {
  try {
    await signOut();
  } finally {
    me = null;
    location.hash = '#/signin';
  }
}

// ---- sign-in ----

function signInPage(): void {
  const input = h('input', {
    id: 'key',
    name: 'key',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'key-help',
  });
  const status = h('p', { role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        fill(status, 'Signing in…');
        try {
          me = await signIn(input.value);
          input.value = '';
          location.hash = '#/campaigns';
        } catch (err) {
          fill(status, problem(err));
        }
      },
    },
    h('label', { for: 'key' }, 'API key'),
    input,
    h('p', { id: 'key-help', class: 'help' }, 'Your organisation\'s API key (vxd_…). It is exchanged for a session that lasts 8 hours; the key itself is not kept by the page.'),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  const heading = h('h1', { tabindex: '-1' }, 'Sign in to voxdial');
  fill(app, h('main', { id: 'main', class: 'narrow' }, heading, form));
  input.focus();
}

// ---- campaigns ----

async function campaignsPage(): Promise<void> {
  const main = layout('Campaigns');
  try {
    const list = await api<Campaign[]>('GET', '/v1/campaigns');
    const views = await Promise.all(
      list.map((c) => api<{ progress: Progress }>('GET', `/v1/campaigns/${encodeURIComponent(c.id)}`)),
    );
    main.append(
      list.length === 0
        ? h('p', {}, 'No campaign yet. Create one with the API or `voxdial campaign create`.')
        : h(
            'table',
            { 'data-testid': 'campaigns' },
            h('caption', {}, 'Every campaign of your organisation'),
            h('thead', {}, h('tr', {}, ['Name', 'Status', 'Leads', 'Done', 'Progress', 'Live calls'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              list.map((c, i) => {
                const p = views[i].progress;
                const share = completion(p);
                return h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, link(`#/campaigns/${encodeURIComponent(c.id)}`, c.settings.name || c.id)),
                  h('td', {}, h('span', { class: `badge ${c.status}` }, c.status)),
                  h('td', {}, p.total),
                  h('td', {}, finalTotal(p)),
                  h('td', {}, h('progress', { max: '1', value: String(share), 'aria-label': `${c.settings.name} progress` }), ` ${formatShare(share)}`),
                  h('td', {}, Object.values(p.live_calls).reduce((a, b) => a + b, 0)),
                );
              }),
            ),
          ),
    );
  } catch (e) {
    main.append(problem(e));
  }
}

function queueBar(p: Progress): HTMLElement {
  const segments = queuePicture(p);
  const total = Math.max(1, segments.reduce((a, s) => a + s.count, 0));
  return h(
    'figure',
    { class: 'queue' },
    h(
      'div',
      { class: 'bar', role: 'img', 'aria-label': segments.map((s) => `${s.label} ${s.count}`).join(', ') },
      segments
        .filter((s) => s.count > 0)
        .map((s) => h('span', { class: `seg ${s.kind} ${s.key}`, style: `flex-grow:${s.count / total}`, title: `${s.label}: ${s.count}` })),
    ),
    h(
      'ul',
      { class: 'legend', 'data-testid': 'queue' },
      segments.map((s) => h('li', { 'data-key': s.key }, h('span', { class: `dot ${s.kind} ${s.key}`, 'aria-hidden': 'true' }), `${s.label} `, h('strong', {}, s.count))),
    ),
  );
}

async function campaignPage(id: string): Promise<void> {
  const main = layout('Campaign');
  const live = h('section', { 'aria-live': 'polite', 'aria-label': 'Live picture' });
  const controls = h('section', { 'aria-label': 'Controls' });
  const callsBox = h('section', { 'aria-label': 'Newest calls' });
  const note = h('p', { class: 'help', 'data-testid': 'live-mode' });
  main.append(note, live, controls, callsBox);
  let current: Campaign | null = null;

  const render = (s: Snapshot, mode: string) => {
    const c = s.campaign as Campaign;
    const p = s.progress as Progress;
    const calls = (s.calls as Call[]) ?? [];
    const heading = main.querySelector('h1');
    if (heading) heading.textContent = `Campaign: ${c.settings.name || c.id}`;
    fill(note, mode === 'stream' ? 'Live: server-sent events.' : 'Live: polling every second.');
    const cap = capFill(p.active, c.settings.max_concurrency);
    const eta = etaSecs(p, c.started_at, Date.now());
    fill(
      live,
      h('h2', {}, 'Queue'),
      queueBar(p),
      figures(
        [
          ['Status', h('span', { class: `badge ${c.status}`, 'data-testid': 'status' }, c.status)],
          ['Leads', h('span', { 'data-testid': 'total' }, p.total)],
          ['Done', h('span', { 'data-testid': 'done' }, finalTotal(p))],
          ['Cap', h('span', {}, h('meter', { min: '0', max: String(cap.cap), value: String(cap.active), 'aria-label': 'slots in use' }), ` ${cap.active} of ${cap.cap} slots`)],
          ['Answer rate', formatShare(answerRate(calls))],
          ['Cost (newest calls)', formatUsd(costUsd(calls))],
          ['ETA', eta === null ? '—' : formatDuration(eta)],
        ],
        'figures',
      ),
      h('h3', {}, 'Cost per outcome (newest calls)'),
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ['Outcome', 'Calls', 'Cost'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, costPerOutcome(calls).map((r) => h('tr', {}, h('td', {}, words(r.outcome)), h('td', {}, r.calls), h('td', {}, formatUsd(r.usd))))),
      ),
    );
    if (!current || current.status !== c.status || current.settings.max_concurrency !== c.settings.max_concurrency) {
      current = c;
      renderControls(c);
    }
    fill(
      callsBox,
      h('h2', {}, 'Newest calls ', link(`#/campaigns/${encodeURIComponent(c.id)}/live`, `live calls (${calls.filter(isLive).length})`)),
      callsTable(calls),
    );
  };

  const renderControls = (c: Campaign) => {
    if (!canOperate(me?.role)) {
      fill(controls, h('p', { class: 'help' }, 'Your role may look, not act.'));
      return;
    }
    const status = h('p', { role: 'status', 'aria-live': 'polite' });
    const act = async (action: string) => {
      try {
        await api('POST', `/v1/campaigns/${encodeURIComponent(c.id)}/${action}`);
        fill(status, `${action}: done`);
      } catch (e) {
        fill(status, problem(e));
      }
    };
    const concurrency = h('input', { id: 'cap', type: 'number', min: '1', max: '1000', value: String(c.settings.max_concurrency) });
    const file = h('input', { id: 'csv', type: 'file', accept: '.csv,text/csv' });
    const report = h('div', { 'aria-live': 'polite', 'data-testid': 'import-report' });
    fill(
      controls,
      h('h2', {}, 'Controls'),
      h('div', { class: 'actions' }, actionsFor(c.status).map((a) => h('button', { type: 'button', 'data-action': a, onclick: () => act(a) }, words(a)))),
      h(
        'form',
        {
          class: 'inline',
          onsubmit: async (e: Event) => {
            e.preventDefault();
            try {
              await api('PUT', `/v1/campaigns/${encodeURIComponent(c.id)}/concurrency`, { max_concurrency: Number(concurrency.value) });
              fill(status, 'concurrency changed');
            } catch (err) {
              fill(status, problem(err));
            }
          },
        },
        h('label', { for: 'cap' }, 'Concurrent calls'),
        concurrency,
        h('button', { type: 'submit' }, 'Change'),
      ),
      h(
        'form',
        {
          class: 'inline',
          onsubmit: async (e: Event) => {
            e.preventDefault();
            const chosen = file.files?.[0];
            if (!chosen) return;
            try {
              const r = await api<{ rows: number; inserted: number; merged: number; rejected_rows: number; rejected: Array<{ line: number; reason: string }> }>(
                'POST',
                `/v1/campaigns/${encodeURIComponent(c.id)}/leads`,
                chosen,
                { 'content-type': 'text/csv' },
              );
              fill(
                report,
                h('p', {}, `${r.rows} rows: ${r.inserted} new, ${r.merged} merged, ${r.rejected_rows} refused.`),
                h('ul', { class: 'rejections' }, rejectionLines(r).map((l) => h('li', {}, l))),
              );
            } catch (err) {
              fill(report, problem(err));
            }
          },
        },
        h('label', { for: 'csv' }, 'Upload leads (CSV)'),
        file,
        h('button', { type: 'submit' }, 'Upload'),
      ),
      report,
      status,
    );
  };

  leave = follow(id, render, (m) => fill(note, problem(m)));
}

function callsTable(calls: Call[]): HTMLElement {
  return h(
    'table',
    { 'data-testid': 'calls' },
    h('thead', {}, h('tr', {}, ['Call', 'Callee', 'State', 'Outcome', 'Duration', 'Cost'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      {},
      calls.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, link(`#/calls/${encodeURIComponent(c.id)}`, c.id)),
          h('td', {}, c.to),
          h('td', {}, words(c.state)),
          h('td', {}, c.outcome ? words(outcomeOf(c)) : '—'),
          h('td', {}, formatDuration(liveDurationSecs(c, Date.now()))),
          h('td', {}, c.cost == null ? '—' : formatUsd(c.cost / 1e6)),
        ),
      ),
    ),
  );
}

// ---- live calls ----

function liveCallsPage(id: string): void {
  const main = layout('Live calls');
  const cards = h('div', { class: 'cards', 'data-testid': 'live-calls' });
  main.append(h('p', {}, link(`#/campaigns/${encodeURIComponent(id)}`, '← campaign')), cards);
  const live = new Map<string, LiveCard>();
  const shown = new Map<string, HTMLElement>();
  const controls = new Map<string, HTMLElement>();
  const agents = canOperate(me?.role) ? availableAgents() : Promise.resolve([]);
  let calls: Call[] = [];
  let agent = '—';

  /** One call's card, its figures and its transcript, scrolled to the newest line. */
  const render = (call: Call): HTMLElement => {
    const conv = (call.conversation ?? {}) as Record<string, unknown>;
    const card = live.get(call.id);
    const lines = h(
      'ol',
      { class: 'transcript spoken', role: 'log', 'data-testid': 'transcript', 'aria-label': 'Transcript', tabindex: 0 },
      (card?.lines ?? []).map((l) =>
        h('li', { class: l.speaker, 'data-index': l.index }, h('span', { class: 'who' }, `${clockOf(l.atMs)} ${words(l.speaker)}`), ' ', l.text),
      ),
    );
    const article = h(
      'article',
      { class: `card ${call.state}`, 'data-call': call.id },
      h('h2', {}, link(`#/calls/${encodeURIComponent(call.id)}`, call.to)),
      figures([
        ['State', words(call.state)],
        ['Conversation', card?.state ? words(card.state) : '—'],
        ['Duration', formatDuration(liveDurationSecs(call, Date.now()))],
        ['Agent', agent],
        ['Provider', call.provider ?? '—'],
        ['AMD', card?.amd ?? (call.answered_by ? words(call.answered_by) : String(conv.amd_verdict ?? '—'))],
        ['Fillers', String(card?.fillers ?? conv.fillers ?? 0)],
        ['Barge-ins', String(card?.bargeIns ?? conv.barge_ins ?? 0)],
      ]),
      lines,
      canOperate(me?.role) ? controlsOf(call.id) : null,
    );
    return article;
  };

  /** A call's buttons, made once and moved into each new card (a listen-in goes on). */
  const controlsOf = (callId: string): HTMLElement => {
    let panel = controls.get(callId);
    if (!panel) {
      panel = callControls(callId, agents);
      controls.set(callId, panel);
    }
    return panel;
  };

  const redraw = (callId?: string) => {
    const ids = calls.map((c) => c.id);
    if (callId !== undefined) {
      const call = calls.find((c) => c.id === callId);
      const old = shown.get(callId);
      if (!call || !old) return;
      const next = render(call);
      old.replaceWith(next);
      shown.set(callId, next);
      scrollDown(next);
      return;
    }
    shown.clear();
    if (ids.length === 0) return fill(cards, h('p', {}, 'No call in progress.'));
    fill(
      cards,
      calls.map((call) => {
        const el = render(call);
        shown.set(call.id, el);
        return el;
      }),
    );
    shown.forEach(scrollDown);
  };

  // Each live call's events come over its own socket, opened with a
  // ticket where the call is held (this server, or the media domain on AWS).
  const watching = new Map<string, () => void>();
  const onLive = (m: LiveMessage) => {
    live.set(m.call_id, applyLive(live.get(m.call_id), m));
    redraw(m.call_id);
  };
  const stopFollowing = follow(
    id,
    (s) => {
      agent = (s.campaign as Campaign).settings.agent_id ?? '—';
      const all = (s.calls as Call[]) ?? [];
      calls = all.filter(isLive);
      for (const c of all) {
        if (!isLive(c)) {
          live.delete(c.id);
          controls.delete(c.id);
          watching.get(c.id)?.();
          watching.delete(c.id);
        }
      }
      for (const c of calls.filter(isConversing)) {
        if (!watching.has(c.id)) watching.set(c.id, watchCall(c.id, onLive));
      }
      redraw();
    },
    (m) => cards.append(problem(m)),
  );
  leave = () => {
    stopFollowing();
    watching.forEach((stop) => stop());
    watching.clear();
  };
}

/** The organisation's human agents who can take a call now. */
async function availableAgents(): Promise<Array<{ id: string; name: string }>> {
  try {
    const all = await api<Array<{ id: string; name: string; status: string }>>('GET', '/v1/agents');
    return all.filter((a) => a.status === 'available');
  } catch {
    return [];
  }
}

/** Hang up, send to a human agent (cold or warm), listen in: one live call's controls. */
function callControls(callId: string, agents: Promise<Array<{ id: string; name: string }>>): HTMLElement {
  const id = encodeURIComponent(callId);
  const status = h('p', { role: 'status', class: 'help', 'data-testid': 'call-status' });
  const act = async (what: string, path: string, body?: unknown) => {
    try {
      await api('POST', path, body);
      fill(status, `${what}: done.`);
    } catch (e) {
      fill(status, problem(e));
    }
  };
  const agent = h('select', { id: `agent-${callId}`, 'data-testid': 'transfer-agent' }, h('option', { value: '' }, 'Human agent…'));
  void agents.then((list) => agent.append(...list.map((a) => h('option', { value: a.id }, a.name))));
  const mode = h('select', { id: `mode-${callId}` }, h('option', { value: 'cold' }, 'Cold'), h('option', { value: 'warm' }, 'Warm'));
  let stop: (() => void) | null = null;
  const heard = h('span', { 'data-testid': 'listen-bytes' }, '0');
  const listenButton = h('button', {
    type: 'button',
    'data-action': 'listen',
    'aria-pressed': 'false',
    onclick: () => {
      if (stop) {
        stop();
        stop = null;
        listenButton.textContent = 'Listen';
        listenButton.setAttribute('aria-pressed', 'false');
        return;
      }
      const stopped = () => {
        stop = null;
        listenButton.textContent = 'Listen';
        listenButton.setAttribute('aria-pressed', 'false');
      };
      // Pressed at once; the socket opens once the ticket is in.
      stop = () => {};
      listenButton.textContent = 'Stop listening';
      listenButton.setAttribute('aria-pressed', 'true');
      listen(
        callId,
        (p) => (heard.textContent = String(p.bytes)),
        (reason) => {
          stopped();
          fill(status, `Listen-in: ${reason}.`);
        },
      ).then(
        (close) => {
          if (stop) stop = close;
          else close();
        },
        (e) => {
          stopped();
          fill(status, problem(e));
        },
      );
    },
  }, 'Listen');
  return h(
    'div',
    { class: 'call-controls' },
    h('button', { type: 'button', 'data-action': 'hangup', onclick: () => act('Hang-up', `/v1/calls/${id}/hangup`) }, 'Hang up'),
    listenButton,
    h('span', { class: 'help' }, ' heard ', heard, ' bytes'),
    h(
      'form',
      {
        class: 'transfer',
        onsubmit: (e: Event) => {
          e.preventDefault();
          if (!agent.value) return fill(status, 'Pick a human agent.');
          void act('Transfer', `/v1/calls/${id}/transfer`, { agent_id: agent.value, mode: mode.value });
        },
      },
      h('label', { for: `agent-${callId}`, class: 'visually-hidden' }, 'Human agent'),
      agent,
      h('label', { for: `mode-${callId}`, class: 'visually-hidden' }, 'Transfer mode'),
      mode,
      h('button', { type: 'submit', 'data-action': 'transfer' }, 'Send to agent'),
    ),
    status,
  );
}

/** Scrolls a card's transcript to its newest line. */
function scrollDown(card: HTMLElement): void {
  const lines = card.querySelector('ol.transcript');
  if (lines) lines.scrollTop = lines.scrollHeight;
}

// ---- call detail ----

async function callPage(id: string): Promise<void> {
  const main = layout('Call');
  try {
    const call = await api<Call>('GET', `/v1/calls/${encodeURIComponent(id)}`);
    const heading = main.querySelector('h1');
    if (heading) heading.textContent = `Call ${call.id}`;
    main.append(
      h('p', {}, link(`#/campaigns/${encodeURIComponent(call.campaign_id)}`, '← campaign')),
      figures([
        ['Callee', call.to],
        ['State', words(call.state)],
        ['Outcome', call.outcome ? words(outcomeOf(call)) : '—'],
        ['Provider', call.provider ?? '—'],
        ['Duration', formatDuration(call.duration_secs)],
        ['Cost', call.cost == null ? '—' : formatUsd(call.cost / 1e6)],
      ], 'call-figures'),
      h('h2', {}, 'Timeline'),
      h('ol', { class: 'timeline' }, timeline(call).map((t) => h('li', {}, h('time', { datetime: t.at }, new Date(t.at).toLocaleString()), ` ${t.what}`))),
      h('h2', {}, 'Compliance record'),
      kv(call.compliance),
    );
    const conv = call.conversation as Record<string, unknown> | null | undefined;
    if (conv) main.append(h('h2', {}, 'Conversation'), kv(conv));
    if (call.transfer) main.append(h('h2', {}, 'Transfer'), kv(call.transfer));
    const recording = h('section', { 'aria-label': 'Recording' }, h('h2', {}, 'Recording'));
    main.append(recording);
    try {
      const r = await api<{ url: string }>('GET', `/v1/calls/${encodeURIComponent(id)}/recording`);
      recording.append(h('audio', { controls: true, src: r.url, preload: 'none' }, 'Your browser cannot play the recording.'));
    } catch (e) {
      recording.append(h('p', { class: 'help' }, e instanceof ApiError && e.status === 404 ? 'No recording.' : e instanceof ApiError && e.status === 403 ? 'Your role may not play recordings.' : String(e)));
    }
    const transcript = h('section', { 'aria-label': 'Transcript' }, h('h2', {}, 'Transcript'));
    main.append(transcript);
    try {
      const turns = transcriptTurns(await api('GET', `/v1/calls/${encodeURIComponent(id)}/transcript`));
      transcript.append(
        h('ol', { class: 'turns', 'data-testid': 'transcript' }, turns.map((t) => h('li', {}, h('span', { class: 'speaker' }, `${t.speaker} ${t.at}`), ' ', t.text))),
      );
    } catch (e) {
      transcript.append(h('p', { class: 'help' }, e instanceof ApiError && e.status === 404 ? 'No transcript yet.' : e instanceof ApiError && e.status === 403 ? 'Your role may not read transcripts.' : String(e)));
    }
    const analysis = h('section', { 'aria-label': 'Analysis' }, h('h2', {}, 'Analysis'));
    main.append(analysis);
    try {
      analysis.append(kv(await api('GET', `/v1/calls/${encodeURIComponent(id)}/analysis`)));
    } catch (e) {
      analysis.append(h('p', { class: 'help' }, e instanceof ApiError && e.status === 404 ? 'Not ready yet.' : String(e)));
    }
  } catch (e) {
    main.append(problem(e));
  }
}

function kv(value: unknown): HTMLElement {
  const rows = flatten(value);
  return rows.length === 0 ? h('p', {}, '—') : figures(rows.map(([k, v]) => [words(k), v]));
}

// ---- human agents ----

const AGENT_STATUSES = ['available', 'busy', 'wrap_up', 'offline'];

async function agentsPage(): Promise<void> {
  const main = layout('Human agents');
  try {
    const agents = await api<Array<{ id: string; name: string; number: string; status: string; skills: string[]; since: string }>>('GET', '/v1/agents');
    const admin = me?.role === 'admin';
    main.append(
      agents.length === 0
        ? h('p', {}, 'No human agent yet (PUT /v1/agents/{id}).')
        : h(
            'table',
            { 'data-testid': 'agents' },
            h('thead', {}, h('tr', {}, ['Agent', 'Number', 'Skills', 'Status', 'Since'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              agents.map((a) => {
                const select = h(
                  'select',
                  {
                    id: `status-${a.id}`,
                    disabled: !admin,
                    onchange: async (e: Event) => {
                      const value = (e.target as HTMLSelectElement).value;
                      try {
                        await api('POST', `/v1/agents/${encodeURIComponent(a.id)}/status`, { status: value });
                      } catch (err) {
                        main.append(problem(err));
                      }
                    },
                  },
                  AGENT_STATUSES.map((s) => h('option', { value: s, selected: s === a.status }, words(s))),
                );
                return h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, a.name),
                  h('td', {}, a.number),
                  h('td', {}, a.skills.join(', ') || '—'),
                  h('td', {}, h('label', { for: `status-${a.id}`, class: 'visually-hidden' }, `Status of ${a.name}`), select),
                  h('td', {}, new Date(a.since).toLocaleString()),
                );
              }),
            ),
          ),
    );
  } catch (e) {
    main.append(problem(e));
  }
}

// ---- AI agents and test calls ----

interface AiAgent {
  id: string;
  version: number;
  config: { name?: string; language?: string; voice?: string };
}

async function aiAgentsPage(): Promise<void> {
  const main = layout('AI agents');
  try {
    const agents = await api<AiAgent[]>('GET', '/v1/ai-agents');
    const panel = h('section', { 'aria-labelledby': 'test-call-heading', hidden: true, 'data-testid': 'test-call' });
    main.append(
      agents.length === 0
        ? h('p', {}, 'No AI agent yet (POST /v1/ai-agents).')
        : h(
            'table',
            { 'data-testid': 'ai-agents' },
            h('thead', {}, h('tr', {}, ['Agent', 'Version', 'Language', 'Voice', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              agents.map((a) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, a.config.name ?? a.id),
                  h('td', {}, String(a.version)),
                  h('td', {}, a.config.language ?? '—'),
                  h('td', {}, a.config.voice ?? '—'),
                  h(
                    'td',
                    {},
                    canOperate(me?.role)
                      ? h(
                          'button',
                          { type: 'button', 'data-action': 'test-call', onclick: () => void openTestCall(panel, a) },
                          `Test call with ${a.config.name ?? a.id}`,
                        )
                      : null,
                  ),
                ),
              ),
            ),
          ),
      panel,
    );
  } catch (e) {
    main.append(problem(e));
  }
}

/** A test call with `agent` in `panel`: its state, transcript and the agent's audio. */
async function openTestCall(panel: HTMLElement, agent: AiAgent): Promise<void> {
  leave();
  const state = h('span', { 'data-testid': 'test-call-state' }, 'connecting');
  const heard = h('span', { 'data-testid': 'test-call-audio' }, '0');
  const ended = h('p', { role: 'status' });
  const lines = h('ol', { class: 'transcript', 'aria-live': 'polite', 'data-testid': 'test-call-transcript' });
  const hangUp = h('button', { type: 'button', 'data-action': 'hang-up-test-call' }, 'Hang up');
  fill(
    panel,
    h('h2', { id: 'test-call-heading' }, `Test call with ${agent.config.name ?? agent.id}`),
    h('p', {}, 'Talk into the microphone; the agent answers through the media bridge, as on a phone call.'),
    figures([
      ['State', state],
      ['Agent audio (bytes)', heard],
    ]),
    lines,
    hangUp,
    ended,
  );
  panel.hidden = false;
  const items = new Map<number, HTMLElement>();
  const onEvent = (e: TestCallEvent) => {
    if (e.type === 'state' && 'state' in e) state.textContent = words(e.state);
    if (e.type === 'line' && 'transcript' in e) {
      const item = items.get(e.index) ?? h('li', { 'data-speaker': e.speaker });
      fill(item, h('strong', {}, `${words(e.speaker)}: `), e.transcript);
      if (!items.has(e.index)) {
        items.set(e.index, item);
        lines.append(item);
      }
    }
  };
  try {
    const stop = await testCall(agent.id, {
      event: onEvent,
      audio: (bytes) => (heard.textContent = String(bytes)),
      end: (reason) => {
        hangUp.disabled = true;
        fill(ended, `Ended: ${reason}.`);
      },
    });
    hangUp.onclick = () => stop();
    leave = stop;
  } catch (e) {
    hangUp.disabled = true;
    panel.append(problem(e));
  }
}

// ---- providers ----

async function providersPage(): Promise<void> {
  const main = layout('Providers');
  try {
    const stats = await api<{ providers: Array<Record<string, unknown>> } & Record<string, unknown>>('GET', '/v1/providers');
    const { providers, ...routing } = stats ?? { providers: [] };
    main.append(
      h('h2', {}, 'Routing'),
      kv(routing),
      h('h2', {}, 'Per provider'),
      h(
        'table',
        { 'data-testid': 'providers' },
        h('thead', {}, h('tr', {}, ['Provider', 'Calls', 'Setup success', 'Answer rate', 'Avg talk', 'Cost', 'Cost / call', 'Circuit'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          (providers ?? []).map((p) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, String(p.provider)),
              h('td', {}, String(p.calls)),
              h('td', {}, formatShare(p.setup_success_rate as number | null)),
              h('td', {}, formatShare(p.answer_seizure_ratio as number | null)),
              h('td', {}, formatDuration(p.average_answered_secs as number | null)),
              h('td', {}, formatUsd(p.cost_usd as number)),
              h('td', {}, formatUsd(p.cost_per_call_usd as number | null)),
              h('td', {}, String(p.circuit)),
            ),
          ),
        ),
      ),
    );
  } catch (e) {
    main.append(problem(e));
  }
}

// ---- analytics ----

async function analyticsPage(): Promise<void> {
  const main = layout('Analytics');
  const day = 24 * 3600 * 1000;
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16);
  const field = (id: string, label: string, input: HTMLElement) => h('p', { class: 'field' }, h('label', { for: id }, label), input);
  const from = h('input', { id: 'from', type: 'datetime-local', value: iso(Date.now() - 7 * day) });
  const to = h('input', { id: 'to', type: 'datetime-local', value: iso(Date.now() + day) });
  const bucket = h('select', { id: 'bucket' }, h('option', { value: 'hour' }, 'hour'), h('option', { value: 'day' }, 'day'));
  const campaign = h('input', { id: 'campaign', type: 'text' });
  const provider = h('input', { id: 'provider', type: 'text' });
  const agent = h('input', { id: 'agent', type: 'text' });
  const out = h('div', { 'aria-live': 'polite', 'data-testid': 'analytics' });
  const csv = h('a', { href: '/v1/analytics.csv', download: 'analytics.csv' }, 'Export CSV');
  const query = () =>
    analyticsQuery({
      from: from.value ? new Date(from.value).toISOString() : undefined,
      to: to.value ? new Date(to.value).toISOString() : undefined,
      bucket: bucket.value,
      campaign_id: campaign.value.trim(),
      provider: provider.value.trim(),
      agent: agent.value.trim(),
    });
  const load = async () => {
    const q = query();
    csv.href = `/v1/analytics.csv?${q}`;
    try {
      const data = await api<Analytics>('GET', `/v1/analytics?${q}`);
      const { drawCharts } = await import('./charts');
      fill(out);
      drawCharts(out, data);
      out.append(h('h2', {}, 'Totals'), h('table', { 'data-testid': 'totals' }, h('tbody', {}, totalsRows(data.totals).map((r) => h('tr', {}, h('th', { scope: 'row' }, r.name), h('td', {}, r.value))))));
    } catch (e) {
      fill(out, e instanceof ApiError && e.status === 404 ? h('p', { class: 'problem', role: 'alert' }, 'This server has no analytics yet (GET /v1/analytics answered 404): its aggregates are not built in this version.') : problem(e));
    }
  };
  main.append(
    h(
      'form',
      { class: 'filters', onsubmit: (e: Event) => { e.preventDefault(); void load(); } },
      field('from', 'From', from),
      field('to', 'To', to),
      field('bucket', 'Per', bucket),
      field('campaign', 'Campaign id', campaign),
      field('provider', 'Provider', provider),
      field('agent', 'Agent', agent),
      h('button', { type: 'submit' }, 'Show'),
      csv,
    ),
    out,
  );
  await load();
}

// ---- routing ----

async function route(): Promise<void> {
  leave();
  leave = () => {};
  const path = location.hash.replace(/^#/, '') || '/campaigns';
  if (path !== '/signin' && !me) {
    me = await whoami().catch(() => null);
    if (!me) {
      location.hash = '#/signin';
      return;
    }
  }
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [page, id, sub] = parts;
  if (page === 'signin') return signInPage();
  if (page === 'campaigns' && id && sub === 'live') return liveCallsPage(id);
  if (page === 'campaigns' && id) return campaignPage(id);
  if (page === 'calls' && id) return callPage(id);
  if (page === 'agents') return agentsPage();
  if (page === 'ai-agents') return aiAgentsPage();
  if (page === 'providers') return providersPage();
  if (page === 'analytics') return analyticsPage();
  return campaignsPage();
}

window.addEventListener('hashchange', () => void route());
void route();
