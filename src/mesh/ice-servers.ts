// STUN and TURN servers for WebRTC links between tabs: without one a tab offers only its host
// addresses, so two tabs behind different NATs never link directly (they go through the relay). The
// head names them (`npm start -- --ice-server …`) and its invites carry them to every member.
// A server is written `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` or `turns:…`, TURN
// credentials before it as `user:password@turn:host:3478`.

/** RTCIceServer's fields this app uses (one URL per server). */
export interface IceServer {
  readonly urls: string;
  readonly username?: string;
  readonly credential?: string;
}

/** Servers an invite may name (each costs every member a lookup per link). */
export const MAX_ICE_SERVERS = 4;
const MAX_FIELD_CHARS = 256;
const URL_SHAPE = /^(stun|turns?):[A-Za-z0-9.\-[\]:]+(\?transport=(udp|tcp))?$/;

/** Why `value` is not an ICE server list an invite may carry, or undefined when it is one. */
export function iceServersProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'not a list';
  if (value.length > MAX_ICE_SERVERS) return `more than ${MAX_ICE_SERVERS} servers`;
  for (const s of value) {
    const o = s as Partial<Record<keyof IceServer, unknown>>;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'a server that is not an object';
    if (typeof o.urls !== 'string' || o.urls.length > MAX_FIELD_CHARS || !URL_SHAPE.test(o.urls))
      return `a URL that is not stun:, turn: or turns: (${String(o.urls).slice(0, 40)})`;
    for (const key of ['username', 'credential'] as const) {
      const v = o[key];
      if (v !== undefined && (typeof v !== 'string' || v.length > MAX_FIELD_CHARS || /[\x00-\x1f]/.test(v))) return `a ${key} that is not a short string`;
    }
    if (Object.keys(o).some((k) => k !== 'urls' && k !== 'username' && k !== 'credential')) return 'a server with unknown fields';
    if (o.urls.startsWith('stun:') && (o.username !== undefined || o.credential !== undefined)) return 'a STUN server with credentials';
  }
  return undefined;
}

/** `[user:password@]stun:host[:port]`, `…turn:…` or `…turns:…` as an IceServer; throws a sentence saying what is wrong. */
export function parseIceServer(text: string): IceServer {
  const raw = text.trim();
  const at = raw.lastIndexOf('@');
  const urls = at < 0 ? raw : raw.slice(at + 1);
  const auth = at < 0 ? undefined : raw.slice(0, at);
  const colon = auth?.indexOf(':') ?? -1;
  const server: IceServer =
    auth === undefined ? { urls } : colon < 0 ? { urls, username: auth } : { urls, username: auth.slice(0, colon), credential: auth.slice(colon + 1) };
  const problem = iceServersProblem([server]);
  if (problem) throw new Error(`${JSON.stringify(raw)} is not an ICE server (${problem}): write stun:host:3478, or user:password@turn:host:3478`);
  return server;
}
