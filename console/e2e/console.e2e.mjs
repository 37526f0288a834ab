// The console end to end in headless Chromium (Debian's `chromium`, driven
// by playwright-core): starts `voxdial demo --open`, signs in with the key
// it prints, starts the campaign from the page, sees the live counts
// change, sees a live call's transcript grow, listens in (bytes reaching
// the page's audio sink), hangs a call up from the page (and finds it in
// the audit trail), opens a live call, pauses and resumes, waits for
// the end and checks the page's counts against the API, opens the
// analytics and a call detail, and saves a screenshot of every page into
// console/artefacts/ (gitignored). It also measures event-to-screen
// latency: a state change made through the API until the page shows it.
// Last, a test call from the AI agents page: Chromium's fake microphone
// plays a WAV made here (voiced syllables, then silence, looped) into the
// test-call socket; the simulated model must hear it (the caller's line in
// the page's transcript) and the agent's voice must reach the audio sink.
//
// VOXDIAL_BIN: the voxdial binary (default: $CARGO_TARGET_DIR or
// ../target, debug). Timeouts only guard against hangs; nothing asserts
// speed.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(repo, 'target');
const bin = process.env.VOXDIAL_BIN ?? join(targetDir, 'debug', 'voxdial');
const artefacts = join(here, '..', 'artefacts');
const HANG = Number(process.env.E2E_HANG_MS ?? 180_000);
const LATENCY_SAMPLES = 10;

mkdirSync(artefacts, { recursive: true });

function fail(message) {
  throw new Error(message);
}

/** Starts the demo with the console up; resolves with its URL and key. */
function startDemo() {
  const dataDir = mkdtempSync(join(tmpdir(), 'voxdial-e2e-data-'));
  const child = spawn(
    bin,
    ['demo', '--open', '--leads', '50', '--concurrency', '3', '--time-scale', '20', '--data-dir', dataDir, '--timeout-secs', '900'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const found = new Promise((resolveFound, rejectFound) => {
    let url;
    let key;
    const timer = setTimeout(() => rejectFound(new Error('the demo printed no console URL')), HANG);
    child.on('exit', (code) => rejectFound(new Error(`the demo exited early (${code})`)));
    lines.on('line', (line) => {
      process.stdout.write(`[demo] ${line}\n`);
      if (line.startsWith('console: ')) url = line.slice('console: '.length).trim();
      if (line.startsWith('admin key: ')) key = line.slice('admin key: '.length).trim();
      if (url && key) {
        clearTimeout(timer);
        resolveFound({ url, key });
      }
    });
  });
  return { child, found, dataDir };
}

/**
 * A mono 16-bit WAV at 16 kHz: `seconds` of voiced syllables (harmonics of
 * 140 Hz, four syllables a second, each louder or softer) then as long a
 * silence, for Chromium's fake microphone (which loops it).
 */
function speechWav(path, seconds) {
  const rate = 16000;
  const n = rate * seconds * 2;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i += 1) {
    const t = i / rate;
    let v = 0;
    if (t < seconds) {
      const syllable = Math.floor(t * 4);
      const envelope = Math.sin(Math.PI * ((t * 4) % 1)) * (0.5 + 0.5 * ((syllable * 7) % 3) / 2);
      for (let k = 1; k <= 12; k += 1) v += Math.sin(2 * Math.PI * 140 * k * t) / k;
      v *= 0.25 * envelope;
    }
    data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, v)) * 32767), 2 * i);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([header, data]));
}

async function shot(page, name) {
  await page.screenshot({ path: join(artefacts, `${name}.png`), fullPage: true });
}

/** The number shown in `[data-testid=NAME]`. */
async function figure(page, name) {
  return Number(await page.locator(`[data-testid="${name}"]`).first().textContent());
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The page, for a screenshot when the test fails. */
let failing;
/** Uncaught errors of the page's scripts: any fails the test. */
const pageErrors = [];

async function main() {
  const demo = startDemo();
  const userDataDir = mkdtempSync(join(tmpdir(), 'voxdial-e2e-chromium-'));
  const microphone = join(userDataDir, 'microphone.wav');
  speechWav(microphone, 2);
  let context;
  try {
    const { url, key } = await demo.found;
    const base = new URL(url).origin;
    const campaignId = decodeURIComponent(new URL(url).hash.split('/')[2]);

    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
        // The test call's microphone: the WAV above, no permission prompt.
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${microphone}`,
      ],
      viewport: { width: 1280, height: 800 },
    });
    context.setDefaultTimeout(HANG);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => {
      pageErrors.push(error.message);
      console.error(`[page error] ${error.message}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') console.error(`[page console] ${message.text()}`);
    });
    failing = page;
    // The audio sink: every sample the page hands to Web Audio for playing.
    await page.addInitScript(() => {
      window.__sinkSamples = 0;
      const start = AudioBufferSourceNode.prototype.start;
      AudioBufferSourceNode.prototype.start = function (...args) {
        window.__sinkSamples += this.buffer ? this.buffer.length : 0;
        return start.apply(this, args);
      };
    });

    // Sign in.
    await page.goto(`${base}/`);
    await page.waitForURL(/#\/signin$/);
    await shot(page, '01-sign-in');
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="campaigns"]').waitFor();
    await shot(page, '02-campaigns');

    // The campaign: start it from the page and watch the counts change.
    await page.goto(url);
    await page.locator('[data-testid="status"]', { hasText: 'draft' }).waitFor();
    const total = await figure(page, 'total');
    await page.locator('button[data-action="start"]').click();
    await page.locator('[data-testid="status"]', { hasText: 'running' }).waitFor();
    const seen = new Set();
    const live = page.locator('[data-testid="queue"] li[data-key="in_call"] strong');
    await page.waitForFunction(
      () => {
        const done = Number(document.querySelector('[data-testid="done"]')?.textContent ?? 0);
        return done > 0;
      },
      undefined,
      { timeout: HANG },
    );
    seen.add(await figure(page, 'done'));
    await shot(page, '03-campaign-running');

    // Pause and resume from the page.
    await page.locator('button[data-action="pause"]').click();
    await page.locator('[data-testid="status"]', { hasText: 'paused' }).waitFor();
    await shot(page, '06-campaign-paused');
    await page.locator('button[data-action="resume"]').click();
    await page.locator('[data-testid="status"]', { hasText: 'running' }).waitFor();

    // Event-to-screen latency: the page changes state through the API and
    // times until the live picture shows the new status.
    const samples = [];
    for (let i = 0; i < LATENCY_SAMPLES; i += 1) {
      const action = i % 2 === 0 ? 'pause' : 'resume';
      const expected = action === 'pause' ? 'paused' : 'running';
      const ms = await page.evaluate(
        async ({ id, action, expected }) => {
          const shows = () => document.querySelector('[data-testid="status"]')?.textContent === expected;
          const t0 = performance.now();
          const response = await fetch(`/v1/campaigns/${encodeURIComponent(id)}/${action}`, {
            method: 'POST',
            headers: { 'x-voxdial-console': '1' },
          });
          if (!response.ok) return -1;
          while (!shows()) await new Promise((r) => requestAnimationFrame(r));
          return performance.now() - t0;
        },
        { id: campaignId, action, expected },
      );
      if (ms < 0) break; // the campaign finished meanwhile
      samples.push(ms);
    }
    if ((await page.locator('[data-testid="status"]').textContent()) === 'paused') {
      await page.locator('button[data-action="resume"]').click();
    }

    // A live call: the live page shows a card while calls are up, its
    // transcript growing line by line as the call goes on.
    await page.goto(`${base}/#/campaigns/${encodeURIComponent(campaignId)}/live`);
    const card = page.locator('article.card h2 a').first();
    await card.waitFor();
    const callHref = await card.getAttribute('href');
    await page.waitForFunction(
      () => {
        window.__lines ??= {};
        for (const el of document.querySelectorAll('article.card')) {
          const n = el.querySelectorAll('ol.transcript li').length;
          const before = window.__lines[el.dataset.call];
          if (before === undefined) {
            if (n > 0) window.__lines[el.dataset.call] = n;
          } else if (n > before) {
            return true;
          }
        }
        return false;
      },
      undefined,
      { polling: 20, timeout: HANG },
    );
    console.log('live transcript: a card\'s transcript grew while its call went on');
    await shot(page, '04-live-calls');

    // Listen-in: bytes of a live call reach the page's audio sink.
    for (let tries = 0; tries < 50 && (await page.evaluate(() => window.__sinkSamples)) === 0; tries += 1) {
      const listenButton = page.locator('article.card.answered button[data-action="listen"]').first();
      await listenButton.waitFor();
      await listenButton.click().catch(() => {});
      await page
        .waitForFunction(() => window.__sinkSamples > 0, undefined, { timeout: 5_000 })
        .catch(() => {});
    }
    const heard = await page.evaluate(() => window.__sinkSamples);
    if (heard === 0) fail('no listen-in audio reached the page');
    console.log(`listen-in: ${heard} μ-law samples reached the audio sink`);
    await shot(page, '04b-listening');

    // Hang a live call up from the page: the API takes it and audits it.
    let hungUp;
    for (let tries = 0; tries < 50 && !hungUp; tries += 1) {
      const button = page.locator('article.card.answered button[data-action="hangup"]').first();
      await button.waitFor();
      const answer = page.waitForResponse((r) => r.url().endsWith('/hangup'), { timeout: 10_000 });
      await button.click().catch(() => {});
      const response = await answer.catch(() => null);
      if (response?.ok()) hungUp = decodeURIComponent(new URL(response.url()).pathname.split('/')[3]);
    }
    if (!hungUp) fail('no call could be hung up from the page');
    const audit = await page.evaluate(async () => (await fetch('/v1/audit?limit=200')).json());
    if (!audit.some((e) => e.route === '/v1/calls/{id}/hangup' && e.target === hungUp)) {
      fail(`the hang-up of ${hungUp} is not in the audit trail`);
    }
    console.log(`hang-up from the page: ${hungUp}, audited`);
    await page.goto(`${base}/${callHref}`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await shot(page, '05-live-call-detail');

    // The end: every lead final, and the page's counts are the API's.
    await page.goto(url);
    await page.locator('[data-testid="status"]', { hasText: 'completed' }).waitFor({ timeout: 900_000 });
    const api = await page.evaluate(async (id) => {
      const r = await fetch(`/v1/campaigns/${encodeURIComponent(id)}`);
      return r.json();
    }, campaignId);
    const apiDone = Object.values(api.progress.finals).reduce((a, b) => a + b, 0);
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="done"]')?.textContent) === n,
      apiDone,
    );
    seen.add(await figure(page, 'done'));
    if ((await figure(page, 'total')) !== api.progress.total) fail('the page and the API disagree on the total');
    if (total !== api.progress.total) fail(`total changed: ${total} then ${api.progress.total}`);
    if (seen.size < 2) fail(`the live count never changed: ${[...seen]}`);
    if ((await live.textContent()) !== '0') fail('calls still shown in progress at the end');
    await shot(page, '07-campaign-completed');

    // Analytics (the aggregates may be absent: the page says so).
    await page.goto(`${base}/#/analytics`);
    await page
      .locator('[data-testid="analytics"] figure.chart, [data-testid="analytics"] .problem, [data-testid="analytics"] p')
      .first()
      .waitFor();
    await shot(page, '08-analytics');

    // A call detail of an ended call.
    await page.goto(url);
    await page.locator('[data-testid="calls"] tbody a').first().click();
    await page.getByRole('heading', { name: 'Compliance record' }).waitFor();
    await page.getByRole('heading', { name: 'Analysis' }).waitFor();
    await shot(page, '09-call-detail');

    // Other pages, and the phone width.
    for (const [path, name] of [['#/agents', '10-agents'], ['#/providers', '11-providers']]) {
      await page.goto(`${base}/${path}`);
      await page.locator('main table, main p').first().waitFor();
      await shot(page, name);
    }
    // A test call from the AI agents page with an agent made for it.
    const created = await page.request.post(`${base}/v1/ai-agents`, {
      headers: { authorization: `Bearer ${key}` },
      data: { config: { name: 'Tess', system_prompt: 'You are Tess, calling about a check-up. persona: interested' } },
    });
    if (!created.ok()) fail(`cannot create an AI agent: ${created.status()} ${await created.text()}`);
    await page.goto(`${base}/#/ai-agents`);
    await page.locator('[data-testid="ai-agents"]').waitFor();
    const sinkBefore = await page.evaluate(() => window.__sinkSamples);
    await page.getByRole('button', { name: 'Test call with Tess' }).click();
    await page.locator('[data-testid="test-call-transcript"] li[data-speaker="caller"]').waitFor();
    const agentBytes = await figure(page, 'test-call-audio');
    if (agentBytes === 0) fail('no agent audio reached the test call');
    const sunk = (await page.evaluate(() => window.__sinkSamples)) - sinkBefore;
    if (sunk === 0) fail("the test call's agent audio never reached the audio sink");
    console.log(
      `test call: the simulated model heard the fake microphone (a caller line), ${agentBytes} bytes of agent audio, ${sunk} samples to the sink, state ${await page.locator('[data-testid="test-call-state"]').textContent()}`,
    );
    await shot(page, '13-test-call');
    await page.locator('button[data-action="hang-up-test-call"]').click();
    await page.locator('[data-testid="test-call"] p[role="status"]').filter({ hasText: 'Ended' }).waitFor();

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(url);
    await page.locator('[data-testid="status"]').waitFor();
    await shot(page, '12-campaign-phone');

    if (pageErrors.length > 0) fail(`the page threw: ${pageErrors[0]}`);
    samples.sort((a, b) => a - b);
    if (samples.length > 0) {
      console.log(
        `event-to-screen latency over ${samples.length} changes: p50 ${percentile(samples, 50).toFixed(0)} ms, p95 ${percentile(samples, 95).toFixed(0)} ms, max ${samples[samples.length - 1].toFixed(0)} ms`,
      );
    }
    console.log(`console end-to-end: passed; screenshots in ${artefacts}`);
  } catch (error) {
    await failing?.screenshot({ path: join(artefacts, 'failure.png'), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context?.close().catch(() => {});
    demo.child.kill('SIGINT');
    rmSync(userDataDir, { recursive: true, force: true });
    rmSync(demo.dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`console end-to-end: FAILED: ${error.stack ?? error}`);
    process.exit(1);
  },
);
