// The console's calls to the /v1 API: same-origin, the session cookie sent
// by the browser, and the console header on every request (the server's
// CSRF rule for state changes made with the cookie). Media sockets open
// with a ticket instead: on AWS they are served at the media domain, where
// the cookie does not reach.

import { socketUrl } from './logic';

/** An error answer of the API: its status and reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Who is signed in (GET /v1/session). */
export interface Whoami {
  key_id: string;
  org_id: string;
  role: 'admin' | 'operator' | 'viewer';
}

type Body = string | Blob | undefined;

/** Sends a request; the JSON answer, or null for 204. Throws ApiError. */
export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const isRaw = typeof body === 'string' || body instanceof Blob;
  const payload: Body = body === undefined ? undefined : isRaw ? (body as Body) : JSON.stringify(body);
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      'x-voxdial-console': '1',
      ...(payload !== undefined && !isRaw ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: payload,
  });
  if (response.status === 204) return null as T;
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const reason = (json as { error?: string } | null)?.error ?? (text || response.statusText);
    throw new ApiError(response.status, reason);
  }
  return json as T;
}

/** Exchanges an API key for the session cookie. */
export function signIn(key: string): Promise<Whoami> {
  return api<Whoami>('POST', '/v1/session', undefined, { authorization: `Bearer ${key.trim()}` });
}

/** Signs out (the cookie is cleared). */
export function signOut(): Promise<null> {
  return api<null>('DELETE', '/v1/session');
}

/** Who is signed in, or null when nobody is. */
export async function whoami(): Promise<Whoami | null> {
  try {
    return await api<Whoami>('GET', '/v1/session');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/**
 * Opens a media socket (listen-in, a call's live events, a test call)
 * with a one-minute ticket from `POST {socket}/ticket`: the URL the API
 * answers is the media domain's on AWS, this server's locally.
 */
export async function mediaSocket(socketPath: string): Promise<WebSocket> {
  const { url } = await api<{ url: string }>('POST', `${socketPath}/ticket`);
  return new WebSocket(socketUrl(url, location));
}
