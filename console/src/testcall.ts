// Test call: the WebSocket of GET /v1/ai-agents/{id}/test-call, opened
// with a ticket (on AWS the media domain serves it). The
// microphone (getUserMedia) goes out as 16-bit PCM at 8 kHz in 20 ms
// binary messages; the agent's voice comes back in the same format and is
// played with Web Audio (each frame right after the previous one, late
// frames dropped past MAX_LAG_S); text messages are the conversation's
// live events (state changes, transcript lines) as JSON.

import { mediaSocket } from './api';
import { MAX_LAG_S } from './listen';
import { Downsampler, TEST_CALL_RATE, decodePcm16 } from './logic';

/** Bytes of 20 ms of 8 kHz 16-bit PCM. */
const FRAME_BYTES = 320;

/** A live event of the test call (see the server's LiveEvent). */
export type TestCallEvent =
  | { type: 'state'; state: string }
  | { type: 'line'; index: number; speaker: string; at_ms: number; transcript: string }
  | { type: string };

/** What the page shows of a test call. */
export interface TestCallView {
  event(e: TestCallEvent): void;
  /** Bytes of the agent's voice handed to the audio graph so far. */
  audio(bytes: number): void;
  end(reason: string): void;
}

/** Starts a test call with `agentId`; resolves with a function that hangs up. */
export async function testCall(agentId: string, view: TestCallView): Promise<() => void> {
  const microphone = await navigator.mediaDevices.getUserMedia({
    // No noise suppression: the bridge and the model have their own voice
    // detection, and a suppressor can swallow quiet speech.
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false },
  });
  let socket: WebSocket;
  try {
    socket = await mediaSocket(`/v1/ai-agents/${encodeURIComponent(agentId)}/test-call`);
  } catch (e) {
    microphone.getTracks().forEach((t) => t.stop());
    throw e;
  }
  const audio = new AudioContext();
  void audio.resume();
  socket.binaryType = 'arraybuffer';

  // The microphone, down to 8 kHz, in 20 ms frames. A ScriptProcessor
  // needs no module of its own; its output is muted.
  const source = audio.createMediaStreamSource(microphone);
  const capture = audio.createScriptProcessor(2048, 1, 1);
  const mute = audio.createGain();
  mute.gain.value = 0;
  const down = new Downsampler(audio.sampleRate);
  let pending = new Int16Array(0);
  capture.onaudioprocess = (e) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    const more = down.push(e.inputBuffer.getChannelData(0));
    const all = new Int16Array(pending.length + more.length);
    all.set(pending);
    all.set(more, pending.length);
    const samples = FRAME_BYTES / 2;
    let at = 0;
    for (; at + samples <= all.length; at += samples) {
      socket.send(all.slice(at, at + samples).buffer);
    }
    pending = all.slice(at);
  };
  source.connect(capture);
  capture.connect(mute);
  mute.connect(audio.destination);

  let playhead = 0;
  let played = 0;
  socket.onmessage = (e) => {
    if (typeof e.data === 'string') {
      view.event(JSON.parse(e.data) as TestCallEvent);
      return;
    }
    const samples = decodePcm16(e.data as ArrayBuffer);
    const now = audio.currentTime;
    playhead = Math.max(playhead, now + 0.05);
    if (playhead - now > MAX_LAG_S || samples.length === 0) return;
    const buffer = audio.createBuffer(1, samples.length, TEST_CALL_RATE);
    buffer.getChannelData(0).set(samples);
    const node = audio.createBufferSource();
    node.buffer = buffer;
    node.connect(audio.destination);
    node.start(playhead);
    playhead += samples.length / TEST_CALL_RATE;
    played += samples.length * 2;
    view.audio(played);
  };
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    capture.disconnect();
    source.disconnect();
    microphone.getTracks().forEach((t) => t.stop());
    void audio.close();
  };
  socket.onclose = (e) => {
    stop();
    view.end(e.reason || (e.code === 1000 ? 'the call ended' : `closed (${e.code})`));
  };
  return () => {
    socket.close(1000, 'hung up');
    stop();
  };
}
