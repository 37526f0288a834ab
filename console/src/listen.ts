// Listen-in: the WebSocket of GET /v1/calls/{id}/listen (binary messages
// of 20 ms of 8 kHz μ-law, both channels mixed), opened with a ticket,
// played with Web Audio.
// Each frame is scheduled right after the previous one; a frame that would
// play more than MAX_LAG_S after its arrival is dropped, so the page never
// falls further behind the call.

import { mediaSocket } from './api';
import { decodeUlaw } from './logic';

/** The most the page lets playback lag behind arrival, in seconds. */
export const MAX_LAG_S = 0.3;

/** What a listener reports: bytes handed to the audio graph so far. */
export interface ListenProgress {
  bytes: number;
}

/** Listens to a live call; resolves with a function that stops. */
export async function listen(
  callId: string,
  onProgress: (p: ListenProgress) => void,
  onEnd: (reason: string) => void,
): Promise<() => void> {
  // Made before the ticket is fetched, while the click's activation holds.
  const audio = new AudioContext();
  void audio.resume();
  let socket: WebSocket;
  try {
    socket = await mediaSocket(`/v1/calls/${encodeURIComponent(callId)}/listen`);
  } catch (e) {
    void audio.close();
    throw e;
  }
  socket.binaryType = 'arraybuffer';
  let playhead = 0;
  const progress: ListenProgress = { bytes: 0 };

  socket.onmessage = (e) => {
    if (!(e.data instanceof ArrayBuffer)) return;
    const samples = decodeUlaw(new Uint8Array(e.data));
    const now = audio.currentTime;
    playhead = Math.max(playhead, now + 0.05);
    if (playhead - now > MAX_LAG_S) return;
    const buffer = audio.createBuffer(1, samples.length, 8000);
    buffer.getChannelData(0).set(samples);
    const source = audio.createBufferSource();
    source.buffer = buffer;
    source.connect(audio.destination);
    source.start(playhead);
    playhead += samples.length / 8000;
    progress.bytes += samples.length;
    onProgress(progress);
  };
  socket.onclose = (e) => {
    void audio.close();
    onEnd(e.reason || (e.code === 1000 ? 'the call ended' : `closed (${e.code})`));
  };
  return () => {
    socket.close(1000, 'stopped');
    void audio.close();
  };
}
