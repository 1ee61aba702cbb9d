// The companion's settings from command-line flags and environment variables (flag wins over env,
// env over the default). Pure: no I/O, so every rule about a bad value is unit-tested.
import { isIP } from 'node:net';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from './config-error.ts';
import { DEFAULT_MODEL, joinModels, parseModel, parseModels } from './model-args.ts';
import { type IceServer, MAX_ICE_SERVERS, parseIceServer } from '../mesh/ice-servers.ts';

export { ConfigError } from './config-error.ts';
export { DEFAULT_MODEL, parseModel } from './model-args.ts';

export interface CompanionConfig {
  /** Address every service binds to. */
  host: string;
  /**
   * Host name or address other machines reach this one by, named in the printed URLs, the invite and
   * the --https certificate ('' = the bind host, or for 0.0.0.0 the default route's address).
   */
  publicHost: string;
  /** Ports; 0 asks the OS for a free one (tests), the real port is reported after start. */
  appPort: number;
  nostrPort: number;
  apiPort: number;
  libp2pPort: number;
  /** UDP port of libp2p over QUIC (native peers' links); a native peer (--join) takes any free one unless told. */
  quicPort: number;
  webTransportPort: number;
  /** The built PWA (`npm run build`). */
  distDir: string;
  /** Generated GGUF test models, also served by the app server under /models/. */
  modelsDir: string;
  /** Companion state that must survive restarts (the libp2p private key). */
  cacheDir: string;
  /** Origins allowed to call the API besides the app's own origin ('*' allows any). */
  corsOrigins: string[];
  /** Sites allowed to embed the chat widget (its frame uses this companion); '*' for any. */
  embedOrigins: string[];
  /**
   * `scripts/start.ts` only: the models served by the API with no tab open (model-args.ts), each a
   * test model's name from tools/models/registry.ts (generated on first use), a .gguf path, or an
   * http(s) URL of one; the mesh plans each across its server peers.
   */
  models: string[];
  /** Kernels of the companion's engine: 'cpu' (WASM, falls back to 'ref' when it cannot load) or 'ref'. */
  backend: 'cpu' | 'ref';
  /**
   * Bearer token the /v1 API requires ('' = none). Required on a non-loopback bind: generated and
   * printed at start when not given.
   */
  apiToken: string;
  /** `scripts/start.ts` only: skip rebuilding dist/; skip loading a model (the API then serves none). */
  skipBuild: boolean;
  skipModel: boolean;
  /**
   * Serve only the built app, /models/ and the Nostr relay: what a static host and a public relay
   * give a mesh headed by a tab (no API, libp2p node, engine, invite or /companion.json).
   */
  staticOnly: boolean;
  /**
   * Serve the app over HTTPS with a self-signed certificate kept in cacheDir (src/companion/tls.ts):
   * a page opened from another machine on the LAN is a secure context only over HTTPS.
   */
  https: boolean;
  /**
   * A public or named mesh the companion heads besides its private one ('' = none): announced in
   * clear on its relay, open to anyone who knows the name (src/mesh/net/open-companion-mesh.ts).
   */
  meshName: string;
  /**
   * Speculative decoding of the served model: '' off, 'ngram' (prompt lookup, no model), or a draft
   * model (a test model's name, a .gguf path or a URL) sharing the model's vocabulary.
   */
  draft: string;
  /** 'public': listed on the relay for anyone; 'named': found only by its name. */
  meshVisibility: 'public' | 'named';
  /**
   * Run the API's pipeline on the --mesh-name mesh's peers (strangers, who see the prompts) rather
   * than the private mesh's; answers then say so in served-by.
   */
  serveApiOnOpenMesh: boolean;
  requireCredentials: boolean;
  /** STUN/TURN servers the private mesh's invites name for WebRTC links between tabs (src/mesh/ice-servers.ts). */
  iceServers: IceServer[];
  /**
   * An invite link (`<app>#join=…`) or bare token ('' = none): with `serve`, run a headless native
   * peer of that mesh instead of a companion (src/companion/native-peer.ts).
   */
  join: string;
  /** With `join`: lend this machine's compute (run the stages the head plans for it). */
  serve: boolean;
  /** A native peer's memory budget in bytes for the layers it holds (0 = half of this machine's memory). */
  budgetBytes: number;
}

export type ParsedArgs = { kind: 'help'; text: string } | { kind: 'config'; config: CompanionConfig };

type Kind =
  | 'host'
  | 'publicHost'
  | 'port'
  | 'path'
  | 'origins'
  | 'flag'
  | 'model'
  | 'draft'
  | 'backend'
  | 'token'
  | 'meshName'
  | 'visibility'
  | 'invite'
  | 'bytes'
  | 'iceServers';
type Key = keyof CompanionConfig;

export interface Option {
  key: Key;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
}

/** Every flag the companion takes (README's table documents each: config.test.ts checks). */
export const OPTIONS: readonly Option[] = [
  { key: 'host', flag: '--host', env: 'MESH_HOST', kind: 'host', help: 'bind address of every service' },
  {
    key: 'publicHost',
    flag: '--public-host',
    env: 'MESH_PUBLIC_HOST',
    kind: 'publicHost',
    help: 'name or address other devices reach this machine by: printed URLs, invite and --https certificate name it',
  },
  { key: 'appPort', flag: '--app-port', env: 'MESH_APP_PORT', kind: 'port', help: 'port of the PWA (static files)' },
  { key: 'nostrPort', flag: '--nostr-port', env: 'MESH_NOSTR_PORT', kind: 'port', help: 'port of the local Nostr relay' },
  { key: 'apiPort', flag: '--api-port', env: 'MESH_API_PORT', kind: 'port', help: 'port of the HTTP API (/health, /v1/…)' },
  { key: 'libp2pPort', flag: '--libp2p-port', env: 'MESH_LIBP2P_PORT', kind: 'port', help: 'port of the libp2p WebSockets listener' },
  {
    key: 'quicPort',
    flag: '--quic-port',
    env: 'MESH_QUIC_PORT',
    kind: 'port',
    help: 'UDP port of libp2p over QUIC, for native peers (a --join peer: any free port unless given)',
  },
  {
    key: 'webTransportPort',
    flag: '--webtransport-port',
    env: 'MESH_WEBTRANSPORT_PORT',
    kind: 'port',
    help: 'UDP port of the WebTransport bridge tabs dial (HTTP/3; a --join peer: any free port unless given)',
  },
  { key: 'distDir', flag: '--dist', env: 'MESH_DIST_DIR', kind: 'path', help: 'folder of the built PWA' },
  { key: 'modelsDir', flag: '--models-dir', env: 'MESH_MODELS_DIR', kind: 'path', help: 'folder served under /models/' },
  {
    key: 'cacheDir',
    flag: '--cache-dir',
    env: 'MESH_CACHE_DIR',
    kind: 'path',
    help: 'folder for the companion state kept across restarts (libp2p key, mesh secret, certificate)',
  },
  {
    key: 'corsOrigins',
    flag: '--cors-origin',
    env: 'MESH_CORS_ORIGINS',
    kind: 'origins',
    help: 'extra origin(s) allowed to call the API, comma-separated; * for any',
  },
  {
    key: 'embedOrigins',
    flag: '--embed-origin',
    env: 'MESH_EMBED_ORIGINS',
    kind: 'origins',
    help: 'site(s) allowed to embed the chat widget, comma-separated; * for any (default: none)',
  },
  {
    key: 'models',
    flag: '--model',
    env: 'MESH_MODEL',
    kind: 'model',
    help: 'model the API serves: a test model name, a .gguf path or URL; repeat the flag (or comma-separate the variable) for several',
  },
  { key: 'backend', flag: '--backend', env: 'MESH_BACKEND', kind: 'backend', help: 'kernels of the API engine: cpu (WASM) or ref (scalar)' },
  { key: 'apiToken', flag: '--api-token', env: 'MESH_API_TOKEN', kind: 'token', help: 'bearer token the API requires (generated on a non-loopback --host)' },
  { key: 'skipBuild', flag: '--skip-build', env: 'MESH_SKIP_BUILD', kind: 'flag', help: 'do not (re)build dist/ before serving' },
  {
    key: 'https',
    flag: '--https',
    env: 'MESH_HTTPS',
    kind: 'flag',
    help: 'serve the app and API over HTTPS, the Nostr relay and libp2p over WSS, with one generated self-signed certificate (for a LAN)',
  },
  { key: 'skipModel', flag: '--skip-model', env: 'MESH_SKIP_MODEL', kind: 'flag', help: 'load no model (the API answers 503 until a peer serves one)' },
  {
    key: 'staticOnly',
    flag: '--static-only',
    env: 'MESH_STATIC_ONLY',
    kind: 'flag',
    help: 'serve only the app, /models/ and the Nostr relay (no API, libp2p node, engine or invite): a static host for meshes headed by a tab',
  },
  {
    key: 'draft',
    flag: '--draft',
    env: 'MESH_DRAFT',
    kind: 'draft',
    help: "speculative decoding of the served model: 'ngram' (prompt lookup), or a draft model (test model name, .gguf path or URL) sharing its vocabulary",
  },
  {
    key: 'meshName',
    flag: '--mesh-name',
    env: 'MESH_NAME',
    kind: 'meshName',
    help: 'also head a public or named mesh of this name (anyone who knows the name may join; its peers are strangers who see prompts)',
  },
  {
    key: 'meshVisibility',
    flag: '--mesh-visibility',
    env: 'MESH_VISIBILITY',
    kind: 'visibility',
    help: 'of the --mesh-name mesh: public (listed on the relay) or named (found by its name only)',
  },
  {
    key: 'requireCredentials',
    flag: '--require-credentials',
    env: 'MESH_REQUIRE_CREDENTIALS',
    kind: 'flag',
    help: 'admit to the private mesh only peers whose invite carries a member credential this companion signed, unexpired and not revoked (the printed invite carries one valid 7 days; POST /mesh/invites makes more)',
  },
  {
    key: 'iceServers',
    flag: '--ice-server',
    env: 'MESH_ICE_SERVERS',
    kind: 'iceServers',
    help: "STUN or TURN server the private mesh's invites name for WebRTC links between tabs (stun:host:3478, or user:password@turn:host:3478); repeat the flag (or comma-separate the variable) for up to 4",
  },
  {
    key: 'serveApiOnOpenMesh',
    flag: '--serve-api-on-open-mesh',
    env: 'MESH_SERVE_API_ON_OPEN_MESH',
    kind: 'flag',
    help: "run the API's requests on the --mesh-name mesh's peers (strangers who see the prompts) instead of the private mesh's; served-by then says mesh=open",
  },
  {
    key: 'join',
    flag: '--join',
    env: 'MESH_JOIN',
    kind: 'invite',
    help: 'with --serve: run a headless native peer of the mesh of this invite link (or token) instead of a companion',
  },
  { key: 'serve', flag: '--serve', env: 'MESH_SERVE', kind: 'flag', help: 'with --join: run the layers the mesh head plans for this machine' },
  {
    key: 'budgetBytes',
    flag: '--budget',
    env: 'MESH_BUDGET',
    kind: 'bytes',
    help: 'with --join: memory for the layers this peer holds, in bytes or with a unit (512MiB, 2GiB)',
  },
];

export function defaultConfig(root: string): CompanionConfig {
  return {
    host: '127.0.0.1',
    publicHost: '',
    appPort: 8080,
    nostrPort: 7777,
    apiPort: 9337,
    libp2pPort: 9090,
    quicPort: 9091,
    webTransportPort: 9092,
    distDir: join(root, 'dist'),
    modelsDir: join(root, '.cache', 'models'),
    cacheDir: join(root, '.cache', 'companion'),
    corsOrigins: [],
    embedOrigins: [],
    models: [DEFAULT_MODEL],
    draft: '',
    backend: 'cpu',
    apiToken: '',
    skipBuild: false,
    skipModel: false,
    staticOnly: false,
    https: false,
    meshName: '',
    meshVisibility: 'named',
    serveApiOnOpenMesh: false,
    requireCredentials: false,
    iceServers: [],
    join: '',
    serve: false,
    budgetBytes: 0,
  };
}

const VALUE_NAME: Record<Kind, string> = {
  host: 'address',
  publicHost: 'host',
  port: 'port',
  path: 'dir',
  origins: 'origins',
  flag: '',
  model: 'model',
  draft: 'ngram|model',
  backend: 'name',
  token: 'token',
  meshName: 'name',
  visibility: 'public|named',
  invite: 'link',
  bytes: 'size',
  iceServers: 'url',
};

export function helpText(root: string): string {
  const defaults = defaultConfig(root);
  const lines = OPTIONS.map((o) => {
    const value = o.kind === 'flag' ? '' : ` <${VALUE_NAME[o.kind]}>`;
    const value0 = defaults[o.key];
    const text =
      o.kind === 'path'
        ? relative(root, String(value0))
        : o.kind === 'publicHost'
          ? "the bind host; for 0.0.0.0 or :: the default route's address"
          : o.kind === 'origins' || o.kind === 'token' || o.kind === 'meshName' || o.kind === 'invite' || o.kind === 'iceServers'
            ? 'none'
            : o.kind === 'bytes'
              ? "half of this machine's memory"
              : String(value0);
    const shown = o.kind === 'flag' ? '' : ` (default ${text})`;
    return `  ${(o.flag + value).padEnd(26)} ${o.env.padEnd(18)} ${o.help}${shown}`;
  });
  return [
    'usage: npm start -- [options]',
    '',
    'Starts the PWA server, a local Nostr relay, the HTTP API and the libp2p node;',
    'with --join <invite link> --serve, a headless native peer of that mesh instead.',
    'Every option can also be given as an environment variable; a flag wins over the variable.',
    'Port 0 picks a free port; the printed URLs carry the real one.',
    '',
    ...lines,
    '  --help, -h                                    show this text',
  ].join('\n');
}

/** Reads `argv` (without node and script) and `env` over the defaults; throws ConfigError on bad input. */
export function parseCompanionArgs(argv: readonly string[], env: Record<string, string | undefined>, root: string): ParsedArgs {
  // Node splits the arguments (--flag value, --flag=value, -h); the checks below are ours, in argument
  // order, so a message names the option and says what to do. Not strict: strict mode refuses
  // `--skip-model=false` and words its errors without the hint. --help wins over any bad input.
  const { tokens } = parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(OPTIONS.map((o) => [o.flag.slice(2), { type: o.kind === 'flag' ? 'boolean' : 'string' }] as const)),
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { kind: 'help', text: helpText(root) };

  const config = defaultConfig(root);
  const set = config as unknown as Record<Key, unknown>;
  for (const option of OPTIONS) {
    const raw = env[option.env];
    if (raw === undefined || raw === '') continue;
    set[option.key] = convert(option, raw, `environment variable ${option.env}`, root);
  }

  const seen = new Set<Key>();
  for (const token of tokens) {
    const option = token.kind === 'option' ? OPTIONS.find((o) => o.flag === `--${token.name}`) : undefined;
    if (token.kind !== 'option' || !option) {
      const arg = token.kind === 'positional' ? token.value : token.kind === 'option' ? token.rawName : '--';
      throw new ConfigError(`unknown option ${JSON.stringify(arg)}; run with --help to list the options`);
    }
    const name = option.flag;
    let raw = token.value;
    if (option.kind === 'flag') raw ??= 'true';
    // Not strict, Node takes the next argument as the value even when it is the next flag.
    else if (raw === undefined || (!token.inlineValue && raw.startsWith('--')))
      throw new ConfigError(`option ${name} needs a value, e.g. ${name}=${example(option)}`);
    const value = convert(option, raw, `option ${name}`, root);
    // A repeated --cors-origin or --embed-origin adds up; the first flag replaces what the environment said.
    set[option.key] =
      option.kind === 'model' && seen.has(option.key)
        ? joinModels(set[option.key] as string[], value as string[], `option ${name}`)
        : (option.kind === 'origins' || option.kind === 'iceServers') && seen.has(option.key)
          ? [...(set[option.key] as unknown[]), ...(value as unknown[])]
          : value;
    seen.add(option.key);
  }
  if (config.iceServers.length > MAX_ICE_SERVERS)
    throw new ConfigError(`--ice-server is given ${config.iceServers.length} times; an invite carries at most ${MAX_ICE_SERVERS} servers`);
  return { kind: 'config', config: nativePeerRules(config, seen, env) };
}

/** --join and --serve go together; a native peer on the companion's machine must not fight it for UDP 9091. */
function nativePeerRules(config: CompanionConfig, flags: ReadonlySet<Key>, env: Record<string, string | undefined>): CompanionConfig {
  if (config.join && !config.serve)
    throw new ConfigError('--join needs --serve: a native peer has no app or API of its own, it only lends compute (add --serve)');
  if (config.serve && !config.join) throw new ConfigError('--serve needs --join <invite link>: the mesh whose head plans what this machine runs');
  if (config.join && config.staticOnly) throw new ConfigError('--join and --static-only do not go together: a native peer serves no app; drop one');
  if (!config.join) return config;
  const quicGiven = flags.has('quicPort') || (env.MESH_QUIC_PORT ?? '') !== '';
  const webTransportGiven = flags.has('webTransportPort') || (env.MESH_WEBTRANSPORT_PORT ?? '') !== '';
  return { ...config, ...(quicGiven ? {} : { quicPort: 0 }), ...(webTransportGiven ? {} : { webTransportPort: 0 }) };
}

function example(option: Option): string {
  const examples: Record<Kind, string> = {
    port: '8080',
    host: '127.0.0.1',
    publicHost: 'mybox.lan',
    origins: 'http://localhost:5173',
    model: DEFAULT_MODEL,
    draft: 'ngram',
    backend: 'cpu',
    token: 'some-secret',
    path: 'path',
    flag: 'true',
    meshName: 'my-mesh',
    visibility: 'public',
    invite: 'http://127.0.0.1:8080/#join=…',
    bytes: '2GiB',
    iceServers: 'stun:stun.example.org:3478',
  };
  return examples[option.kind];
}

function convert(option: Option, raw: string, where: string, root: string): unknown {
  switch (option.kind) {
    case 'port':
      return parsePort(raw, where);
    case 'host':
      return parseHost(raw, where);
    case 'publicHost': {
      const host = parseHost(raw, where);
      // Other machines cannot dial a wildcard: it is a bind address, not a destination.
      if (host === '0.0.0.0' || host === '::')
        throw new ConfigError(`${where} must name this machine as other devices reach it, e.g. 192.168.1.20 or mybox.lan, got ${JSON.stringify(raw)}`);
      return host;
    }
    case 'path':
      if (raw.trim() === '') throw new ConfigError(`${where} is empty; give a folder path`);
      return raw.startsWith('/') ? raw : join(root, raw);
    case 'origins':
      return parseOrigins(raw, where);
    case 'flag':
      return parseBoolean(raw, where);
    case 'model':
      return joinModels([], parseModels(raw, where, root), where);
    case 'draft':
      return raw.trim() === 'ngram' ? 'ngram' : parseModel(raw, where, root);
    case 'backend':
      if (raw.trim() !== 'cpu' && raw.trim() !== 'ref') throw new ConfigError(`${where} must be cpu or ref, got ${JSON.stringify(raw)}`);
      return raw.trim();
    case 'token':
      // Sent in an HTTP header by every client: printable ASCII without spaces, long enough to guess badly.
      if (!/^[\x21-\x7e]{8,}$/.test(raw.trim()))
        throw new ConfigError(`${where} must be at least 8 printable characters without spaces, got ${raw.trim().length} characters`);
      return raw.trim();
    case 'meshName':
      return parseMeshName(raw, where);
    case 'visibility':
      if (raw.trim() !== 'public' && raw.trim() !== 'named') throw new ConfigError(`${where} must be public or named, got ${JSON.stringify(raw)}`);
      return raw.trim();
    case 'invite':
      // Only its shape here: the token's checksum and mesh id are checked when the peer starts (decodeInvite).
      if (raw.trim() === '') throw new ConfigError(`${where} is empty; give the invite link npm start printed (invite: …), or its token`);
      return raw.trim();
    case 'bytes':
      return parseBytes(raw, where);
    case 'iceServers':
      return parseIceServers(raw, where);
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30 };

/** `1073741824`, `512MiB`, `2GiB`, `1.5g`: a positive whole number of bytes. */
export function parseBytes(raw: string, where: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  const bytes = match && unit ? Math.floor(Number(match[1]) * unit) : Number.NaN;
  if (!(bytes >= 1)) throw new ConfigError(`${where} must be a size in bytes or with a unit, such as 536870912, 512MiB or 2GiB; got ${JSON.stringify(raw)}`);
  return bytes;
}

/** Same rules as the mesh's own (src/mesh/mesh-keys.ts normalizeMeshName): 1 to 128 printable characters. */
export function parseMeshName(raw: string, where: string): string {
  const name = raw.normalize('NFKC').trim().replace(/\s+/g, ' ');
  if (name.length === 0 || name.length > 128 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new ConfigError(`${where} must be a mesh name of 1 to 128 printable characters, got ${JSON.stringify(raw)}`);
  }
  return name;
}

export function parsePort(raw: string, where: string): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw new ConfigError(`${where} must be a port number from 0 to 65535 (0 = any free port), got ${JSON.stringify(raw)}`);
  const port = Number(text);
  if (port > 65535) throw new ConfigError(`${where} must be a port number from 0 to 65535 (0 = any free port), got ${port}`);
  return port;
}

export function parseHost(raw: string, where: string): string {
  const host = raw.trim().replace(/^\[(.*)\]$/, '$1');
  const hostname = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
  // All-digit names are mistyped IPv4 addresses, not host names.
  if (isIP(host) === 0 && (!hostname.test(host) || /^[\d.]+$/.test(host))) {
    throw new ConfigError(`${where} must be an IP address or host name such as 127.0.0.1, 0.0.0.0 or ::1, got ${JSON.stringify(raw)}`);
  }
  return host;
}

function parseOrigins(raw: string, where: string): string[] {
  const origins = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const origin of origins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`${where}: ${JSON.stringify(origin)} is not an origin; write it as scheme://host[:port], e.g. http://localhost:5173`);
    }
    if (url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(`${where}: ${JSON.stringify(origin)} is not an origin (no path); write it as ${url.origin}`);
    }
  }
  return origins.map((o) => (o === '*' ? o : new URL(o).origin));
}

function parseBoolean(raw: string, where: string): boolean {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(`${where} must be true or false (1/0), got ${JSON.stringify(raw)}`);
}

/** The host to put in printed URLs: a wildcard bind is reached through loopback on this machine. */
export function displayHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Whether only this machine can reach a service bound to `host` (then the API needs no token). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Comma-separated STUN/TURN servers (src/mesh/ice-servers.ts), at most MAX_ICE_SERVERS. */
function parseIceServers(raw: string, where: string): IceServer[] {
  const servers = raw
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      try {
        return parseIceServer(s);
      } catch (error) {
        throw new ConfigError(`${where}: ${(error as Error).message}`);
      }
    });
  if (servers.length > MAX_ICE_SERVERS) throw new ConfigError(`${where} names ${servers.length} servers; an invite carries at most ${MAX_ICE_SERVERS}`);
  return servers;
}
