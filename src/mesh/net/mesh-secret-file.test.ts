import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newMeshSecret } from '../mesh-keys.ts';
import { loadOrCreateMeshSecret, MESH_SECRET_FILE, saveMeshSecret } from './mesh-secret-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'mesh-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadOrCreateMeshSecret', () => {
  it('creates a secret once, owner-only, and returns the same one after', async () => {
    const first = await loadOrCreateMeshSecret(dir);
    expect(first.created).toBe(true);
    expect(first.secret.length).toBe(32);
    expect(statSync(join(dir, MESH_SECRET_FILE)).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateMeshSecret(dir);
    expect(again).toEqual({ secret: first.secret, created: false });
  });

  it('refuses a damaged file with the way out, and makes a fresh secret per run without a folder', async () => {
    const damaged = mkdtempSync(join(dir, 'damaged-'));
    writeFileSync(join(damaged, MESH_SECRET_FILE), 'not-a-secret\n');
    await expect(loadOrCreateMeshSecret(damaged)).rejects.toMatchObject({ code: 'mesh_secret_corrupt', message: /delete the file/ });
    expect(readFileSync(join(damaged, MESH_SECRET_FILE), 'utf8')).toBe('not-a-secret\n');
    const [a, b] = [await loadOrCreateMeshSecret(null), await loadOrCreateMeshSecret(null)];
    expect(a.secret).not.toEqual(b.secret);
  });

  it('keeps a rotated secret: the next start loads it', async () => {
    const rotated = mkdtempSync(join(dir, 'rotated-'));
    const first = await loadOrCreateMeshSecret(rotated);
    const next = newMeshSecret();
    await saveMeshSecret(rotated, next);
    expect(await loadOrCreateMeshSecret(rotated)).toEqual({ secret: next, created: false });
    expect(next).not.toEqual(first.secret);
    expect(statSync(join(rotated, MESH_SECRET_FILE)).mode & 0o777).toBe(0o600);
  });
});
