import { describe, expect, it } from 'vitest';
import { ShellRoutes } from './routes.ts';

const scope = 'https://mesh.example/';
const files = ['./', 'assets/main-abc123.js', 'manifest.webmanifest', 'icons/icon-192.png'];
const get = (url: string, mode = 'cors') => ({ url, method: 'GET', mode });

describe('ShellRoutes', () => {
  const routes = new ShellRoutes(scope, files);

  it('never caches the API, whatever the method', () => {
    expect(routes.route(get('https://mesh.example/v1/models')).kind).toBe('api');
    expect(routes.route({ url: 'https://mesh.example/v1/chat/completions', method: 'POST', mode: 'cors' }).kind).toBe('api');
    expect(routes.route(get('https://mesh.example/v1')).kind).toBe('api');
    // A shell file whose name merely starts with v1 is not the API.
    expect(routes.route(get('https://mesh.example/v1.png')).kind).toBe('network');
  });

  it('answers every navigation in scope with the cached start page', () => {
    expect(routes.route(get('https://mesh.example/', 'navigate'))).toEqual({ kind: 'navigation', cacheKey: scope });
    expect(routes.route(get('https://mesh.example/dashboard?x=1', 'navigate'))).toEqual({ kind: 'navigation', cacheKey: scope });
  });

  it('serves precached files from the cache, ignoring query strings', () => {
    expect(routes.route(get('https://mesh.example/assets/main-abc123.js'))).toEqual({
      kind: 'shell',
      cacheKey: 'https://mesh.example/assets/main-abc123.js',
    });
    expect(routes.route(get('https://mesh.example/manifest.webmanifest?v=2')).kind).toBe('shell');
  });

  it('leaves other origins, other files and non-GET requests to the network', () => {
    expect(routes.route(get('https://cdn.example/assets/main-abc123.js')).kind).toBe('network');
    expect(routes.route(get('https://mesh.example/models/big.gguf')).kind).toBe('network');
    expect(routes.route({ url: 'https://mesh.example/manifest.webmanifest', method: 'HEAD', mode: 'cors' }).kind).toBe('network');
  });

  it('keeps to its scope when the app lives under a sub-path', () => {
    const sub = new ShellRoutes('https://host.example/mesh/', ['./', 'assets/a.js']);
    expect(sub.route(get('https://host.example/other/', 'navigate')).kind).toBe('network');
    expect(sub.route(get('https://host.example/mesh/v1/models')).kind).toBe('api');
    expect(sub.route(get('https://host.example/v1/models')).kind).toBe('network');
    expect(sub.route(get('https://host.example/mesh/assets/a.js')).kind).toBe('shell');
  });
});
