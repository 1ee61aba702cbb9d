import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, defaultConfig, displayHost, isLoopbackHost, OPTIONS, parseCompanionArgs } from './config.ts';
import type { CompanionConfig } from './config.ts';

const root = '/proj';

function parse(argv: string[], env: Record<string, string> = {}): CompanionConfig {
  const parsed = parseCompanionArgs(argv, env, root);
  if (parsed.kind !== 'config') throw new Error('expected a config');
  return parsed.config;
}

function errorOf(argv: string[], env: Record<string, string> = {}): ConfigError {
  try {
    parseCompanionArgs(argv, env, root);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseCompanionArgs', () => {
  it('gives the documented defaults with no flags or env', () => {
    const config = parse([]);
    expect(config).toMatchObject({ host: '127.0.0.1', appPort: 8080, nostrPort: 7777, apiPort: 9337, libp2pPort: 9090 });
    expect(config.distDir).toBe('/proj/dist');
    expect(config.cacheDir).toBe('/proj/.cache/companion');
    expect(config.skipBuild).toBe(false);
  });

  it('reads every port and the host from flags, in both --flag value and --flag=value forms', () => {
    const config = parse(['--host', '0.0.0.0', '--app-port=1', '--nostr-port', '2', '--api-port=3', '--libp2p-port', '0']);
    expect(config).toMatchObject({ host: '0.0.0.0', appPort: 1, nostrPort: 2, apiPort: 3, libp2pPort: 0 });
  });

  it('reads environment variables, and a flag wins over its variable', () => {
    const env = { MESH_HOST: '::1', MESH_APP_PORT: '18080', MESH_NOSTR_PORT: '17777', MESH_API_PORT: '19337', MESH_LIBP2P_PORT: '19090' };
    expect(parse([], env)).toMatchObject({ host: '::1', appPort: 18080, nostrPort: 17777, apiPort: 19337, libp2pPort: 19090 });
    expect(parse(['--api-port', '5'], env).apiPort).toBe(5);
  });

  it('ignores empty environment variables', () => {
    expect(parse([], { MESH_APP_PORT: '' }).appPort).toBe(8080);
  });

  it('rejects bad ports with a message naming the option and the value', () => {
    expect(errorOf(['--app-port', '65536']).message).toMatch(/--app-port.*0 to 65535.*65536/);
    expect(errorOf(['--api-port=-1']).message).toMatch(/--api-port.*"-1"/);
    expect(errorOf(['--nostr-port', '12ab']).message).toMatch(/--nostr-port/);
    expect(errorOf([], { MESH_LIBP2P_PORT: '1.5' }).message).toMatch(/MESH_LIBP2P_PORT/);
    expect(errorOf(['--app-port']).message).toMatch(/needs a value/);
    expect(errorOf(['--app-port', '--api-port', '1']).message).toMatch(/needs a value/);
  });

  it('rejects bad hosts and unknown options', () => {
    expect(errorOf(['--host', 'not a host']).message).toMatch(/--host/);
    expect(errorOf(['--host', '300.1.1.1']).message).toMatch(/IP address or host name/);
    expect(errorOf(['--port', '1']).message).toMatch(/unknown option "--port".*--help/);
    expect(errorOf(['--app-port', '1', 'extra']).message).toMatch(/unknown option "extra"/);
    expect(errorOf(['--port=1']).message).toMatch(/unknown option "--port"/);
    expect(errorOf(['-x']).message).toMatch(/unknown option "-x"/);
    expect(errorOf(['--', '--app-port', '1']).message).toMatch(/unknown option "--"/);
    expect(errorOf(['--host', 'bad_host!']).code).toBe('config_invalid');
  });

  it('accepts IPv6 in brackets and host names', () => {
    expect(parse(['--host', '[::1]']).host).toBe('::1');
    expect(parse(['--host', 'localhost']).host).toBe('localhost');
  });

  it('reads the public host other devices reach, and refuses a wildcard or a bad name', () => {
    expect(parse([]).publicHost).toBe('');
    expect(parse(['--host', '0.0.0.0', '--public-host', 'mybox.lan']).publicHost).toBe('mybox.lan');
    expect(parse([], { MESH_PUBLIC_HOST: '[fd00::5]' }).publicHost).toBe('fd00::5');
    expect(parse(['--public-host=192.168.1.20'], { MESH_PUBLIC_HOST: 'env.lan' }).publicHost).toBe('192.168.1.20');
    expect(errorOf(['--public-host', '0.0.0.0']).message).toMatch(/--public-host must name this machine as other devices reach it/);
    expect(errorOf([], { MESH_PUBLIC_HOST: '::' }).message).toMatch(/MESH_PUBLIC_HOST must name this machine/);
    expect(errorOf(['--public-host', 'my box']).message).toMatch(/--public-host must be an IP address or host name/);
    expect(errorOf(['--public-host']).message).toMatch(/--public-host needs a value, e.g. --public-host=mybox.lan/);
  });

  it('collects CORS origins from the environment and repeated flags', () => {
    expect(parse([], { MESH_CORS_ORIGINS: 'http://a.test, https://b.test:8443' }).corsOrigins).toEqual(['http://a.test', 'https://b.test:8443']);
    expect(parse(['--cors-origin', 'http://a.test', '--cors-origin=*'], { MESH_CORS_ORIGINS: 'http://env.test' }).corsOrigins).toEqual(['http://a.test', '*']);
    expect(parse(['--embed-origin', 'https://shop.test', '--embed-origin', 'http://b.test'], {}).embedOrigins).toEqual(['https://shop.test', 'http://b.test']);
    expect(parse([], { MESH_EMBED_ORIGINS: '*' }).embedOrigins).toEqual(['*']);
    expect(errorOf(['--cors-origin', 'http://a.test/path']).message).toMatch(/not an origin.*http:\/\/a\.test/);
    expect(errorOf(['--cors-origin', 'nope']).message).toMatch(/not an origin/);
  });

  it('collects STUN/TURN servers from repeated flags or the variable, and refuses what is not one', () => {
    expect(parse([], {}).iceServers).toEqual([]);
    expect(parse([], { MESH_ICE_SERVERS: 'stun:a.test:3478, u:p@turn:b.test:3478' }).iceServers).toEqual([
      { urls: 'stun:a.test:3478' },
      { urls: 'turn:b.test:3478', username: 'u', credential: 'p' },
    ]);
    expect(parse(['--ice-server', 'stun:a.test', '--ice-server=turns:b.test:5349'], { MESH_ICE_SERVERS: 'stun:env.test' }).iceServers).toEqual([
      { urls: 'stun:a.test' },
      { urls: 'turns:b.test:5349' },
    ]);
    expect(errorOf(['--ice-server', 'https://stun.test']).message).toMatch(/--ice-server: "https:\/\/stun.test" is not an ICE server/);
    expect(errorOf(Array.from({ length: 5 }, (_, i) => `--ice-server=stun:h${i}.test`)).message).toMatch(/at most 4/);
  });

  it('resolves relative paths against the project root and reads boolean switches', () => {
    const config = parse(['--dist', 'build/out', '--cache-dir=/abs', '--skip-build', '--skip-model=false']);
    expect(config.distDir).toBe('/proj/build/out');
    expect(config.cacheDir).toBe('/abs');
    expect(config.skipBuild).toBe(true);
    expect(config.skipModel).toBe(false);
    expect(parse([], { MESH_SKIP_MODEL: '1' }).skipModel).toBe(true);
    expect(errorOf([], { MESH_SKIP_BUILD: 'maybe' }).message).toMatch(/MESH_SKIP_BUILD.*true or false/);
  });

  it('validates the model name', () => {
    expect(parse(['--model', 'tiny-qwen2-f16']).models).toEqual(['tiny-qwen2-f16']);
    expect(errorOf(['--model', '../x']).message).toMatch(/model name/);
  });

  it('serves several models: --model repeated, or MESH_MODEL comma-separated (a flag replaces the variable)', () => {
    expect(parse([]).models).toEqual(['kjv-llama-16m-q8_0']);
    expect(parse(['--model', 'tiny-llama-q8_0', '--model=m.gguf']).models).toEqual(['tiny-llama-q8_0', '/proj/m.gguf']);
    expect(parse([], { MESH_MODEL: 'tiny-llama-q8_0, tiny-qwen3-q8_0' }).models).toEqual(['tiny-llama-q8_0', 'tiny-qwen3-q8_0']);
    expect(parse(['--model', 'a'], { MESH_MODEL: 'b,c' }).models).toEqual(['a']);
    // The same model twice is served once.
    expect(parse(['--model', 'a', '--model', 'a,b']).models).toEqual(['a', 'b']);
    expect(errorOf([], { MESH_MODEL: 'a,,b' }).message).toMatch(/MESH_MODEL has an empty model name/);
    expect(errorOf(['--model', 'a', '--model', 'b c']).message).toMatch(/--model must be a model name/);
    expect(errorOf(['--model', 'a,b,c,d,e,f,g,h,i']).message).toMatch(/at most 8 models, got 9/);
  });

  it('takes a .gguf path (made absolute) or an http(s) URL as the model', () => {
    expect(parse(['--model', 'models/my.gguf']).models).toEqual(['/proj/models/my.gguf']);
    expect(parse([], { MESH_MODEL: '/abs/m.GGUF' }).models).toEqual(['/abs/m.GGUF']);
    expect(parse(['--model', 'http://127.0.0.1:8080/models/tiny.gguf']).models).toEqual(['http://127.0.0.1:8080/models/tiny.gguf']);
    expect(errorOf(['--model', 'https://']).message).toMatch(/not a valid URL/);
    expect(errorOf(['--model', 'my model']).message).toMatch(/\.gguf file, or an http\(s\) URL/);
  });

  it('reads the backend and the API token, and refuses weak or odd values', () => {
    expect(parse([])).toMatchObject({ backend: 'cpu', apiToken: '' });
    expect(parse(['--backend', 'ref', '--api-token', 's3cret-token'])).toMatchObject({ backend: 'ref', apiToken: 's3cret-token' });
    expect(parse([], { MESH_API_TOKEN: 'from-the-env' }).apiToken).toBe('from-the-env');
    expect(errorOf(['--backend', 'gpu']).message).toMatch(/cpu or ref/);
    expect(errorOf(['--api-token', 'short']).message).toMatch(/at least 8/);
    expect(errorOf(['--api-token', 'has a space']).message).toMatch(/without spaces/);
  });

  it('reads a public or named mesh to head, and refuses a bad name or visibility', () => {
    expect(parse([])).toMatchObject({ meshName: '', meshVisibility: 'named' });
    expect(parse(['--mesh-name', '  Demo   Mesh ', '--mesh-visibility=public'])).toMatchObject({ meshName: 'Demo Mesh', meshVisibility: 'public' });
    expect(parse([], { MESH_NAME: 'lab', MESH_VISIBILITY: 'named' })).toMatchObject({ meshName: 'lab', meshVisibility: 'named' });
    expect(parse(['--mesh-visibility', 'named'], { MESH_VISIBILITY: 'public' }).meshVisibility).toBe('named');
    expect(errorOf(['--mesh-visibility', 'private']).message).toMatch(/--mesh-visibility must be public or named, got "private"/);
    expect(errorOf(['--mesh-name', 'x'.repeat(129)]).message).toMatch(/--mesh-name must be a mesh name of 1 to 128/);
    expect(errorOf([], { MESH_NAME: 'a\u0007b' }).message).toMatch(/MESH_NAME must be a mesh name/);
  });

  it('answers --help with text that lists every flag and variable', () => {
    const parsed = parseCompanionArgs(['--app-port', '1', '--help'], {}, root);
    expect(parsed.kind).toBe('help');
    const text = parsed.kind === 'help' ? parsed.text : '';
    for (const name of [
      '--host',
      'MESH_HOST',
      '--public-host',
      'MESH_PUBLIC_HOST',
      '--app-port',
      'MESH_APP_PORT',
      '--nostr-port',
      '--api-port',
      '--libp2p-port',
      'MESH_LIBP2P_PORT',
    ]) {
      expect(text).toContain(name);
    }
    // Help wins over a bad option or variable: it is what a confused user needs.
    expect(parseCompanionArgs(['--port', '1', '--help'], {}, root).kind).toBe('help');
    expect(parseCompanionArgs(['-h'], { MESH_APP_PORT: 'x' }, root).kind).toBe('help');
  });

  it('does not share mutable defaults between calls', () => {
    parse(['--cors-origin', 'http://a.test']);
    expect(defaultConfig(root).corsOrigins).toEqual([]);
    expect(defaultConfig(root).embedOrigins).toEqual([]);
  });
});

describe('isLoopbackHost', () => {
  it('knows which binds only this machine can reach', () => {
    for (const host of ['127.0.0.1', '127.8.0.3', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.4', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host), host).toBe(false);
  });
});

describe('displayHost', () => {
  it('prints loopback for wildcard binds and brackets IPv6', () => {
    expect(displayHost('0.0.0.0')).toBe('127.0.0.1');
    expect(displayHost('::')).toBe('[::1]');
    expect(displayHost('::1')).toBe('[::1]');
    expect(displayHost('192.168.1.4')).toBe('192.168.1.4');
  });
});

describe('native peers and QUIC', () => {
  it('listens for QUIC on UDP 9091 by default, and takes --quic-port and MESH_QUIC_PORT', () => {
    expect(parse([]).quicPort).toBe(9091);
    expect(parse(['--quic-port', '0']).quicPort).toBe(0);
    expect(parse([], { MESH_QUIC_PORT: '19091' }).quicPort).toBe(19091);
    expect(errorOf(['--quic-port', '70000']).message).toMatch(/--quic-port.*0 to 65535/);
  });

  it('serves WebTransport on UDP 9092 by default, and takes --webtransport-port and MESH_WEBTRANSPORT_PORT', () => {
    expect(parse([]).webTransportPort).toBe(9092);
    expect(parse(['--webtransport-port', '0']).webTransportPort).toBe(0);
    expect(parse([], { MESH_WEBTRANSPORT_PORT: '19092' }).webTransportPort).toBe(19092);
    expect(errorOf(['--webtransport-port', '-1']).message).toMatch(/--webtransport-port.*0 to 65535/);
    const link = 'http://127.0.0.1:8080/#join=AbC';
    expect(parse(['--join', link, '--serve']).webTransportPort).toBe(0);
    expect(parse(['--join', link, '--serve', '--webtransport-port', '9393']).webTransportPort).toBe(9393);
  });

  it('runs a native peer with --join and --serve: any free QUIC port unless given, a budget with a unit', () => {
    const link = 'http://127.0.0.1:8080/#join=AbC';
    expect(parse(['--join', link, '--serve'])).toMatchObject({ join: link, serve: true, quicPort: 0, budgetBytes: 0 });
    expect(parse(['--join', link, '--serve', '--quic-port', '9191']).quicPort).toBe(9191);
    expect(parse(['--serve'], { MESH_JOIN: link, MESH_QUIC_PORT: '9292' }).quicPort).toBe(9292);
    expect(parse(['--join', link, '--serve', '--budget', '512MiB']).budgetBytes).toBe(512 * 2 ** 20);
    expect(parse(['--join', link, '--serve', '--budget=2GiB']).budgetBytes).toBe(2 * 2 ** 30);
    expect(parse(['--join', link, '--serve', '--budget', '1000000']).budgetBytes).toBe(1_000_000);
  });

  it('refuses --join without --serve, --serve without --join, empty invites and bad budgets, saying what to do', () => {
    expect(errorOf(['--join', 'x']).message).toMatch(/--join needs --serve/);
    expect(errorOf(['--serve']).message).toMatch(/--serve needs --join/);
    expect(errorOf(['--join', 'x', '--serve', '--static-only']).message).toMatch(/--join and --static-only/);
    expect(errorOf(['--join=', '--serve']).message).toMatch(/--join is empty.*invite link/);
    expect(errorOf(['--join', 'x', '--serve', '--budget', 'lots']).message).toMatch(/--budget must be a size.*512MiB.*"lots"/);
    expect(errorOf(['--join', 'x', '--serve', '--budget', '0']).message).toMatch(/--budget must be a size/);
    expect(errorOf(['--join', 'x', '--serve'], { MESH_BUDGET: '3 parsecs' }).message).toMatch(/MESH_BUDGET/);
  });
});

describe('README', () => {
  it('documents every flag and environment variable of the companion in its options table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `--'));
    const missing = OPTIONS.filter((o) => !rows.some((row) => row.startsWith(`| \`${o.flag}\``) && (!o.env || row.includes(`\`${o.env}\``)))).map(
      (o) => `${o.flag} ${o.env}`,
    );
    expect(missing).toEqual([]);
  });
});
