// The companion's own private mesh secret, kept under its cache folder so `npm start` prints the
// same invite across restarts (tabs that joined rejoin). Node only. Written atomically, owner-only.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshError } from '../../protocol/errors.ts';
import { fromBase64Url, toBase64Url } from '../bytes.ts';
import { MESH_SECRET_BYTES, newMeshSecret } from '../mesh-keys.ts';

export const MESH_SECRET_FILE = 'mesh-secret';

/** The secret stored in `dir`, or a new one saved there; `dir` null: a fresh secret for this run only. */
export async function loadOrCreateMeshSecret(dir: string | null): Promise<{ secret: Uint8Array; created: boolean }> {
  if (dir === null) return { secret: newMeshSecret(), created: true };
  const path = join(dir, MESH_SECRET_FILE);
  let text: string | undefined;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    const secret = fromBase64Url(text);
    if (secret && secret.length === MESH_SECRET_BYTES) return { secret, created: false };
    throw new MeshError(
      'mesh_secret_corrupt',
      `the mesh secret in ${path} is damaged; delete the file to start a new private mesh (tabs must then join with the new invite)`,
    );
  }
  const secret = newMeshSecret();
  await saveMeshSecret(dir, secret);
  return { secret, created: true };
}

/** Replaces the stored secret (a rotation, rekey.ts): the next start heads the new mesh. */
export async function saveMeshSecret(dir: string, secret: Uint8Array): Promise<void> {
  const path = join(dir, MESH_SECRET_FILE);
  await mkdir(dir, { recursive: true });
  await writeFile(`${path}.tmp`, `${toBase64Url(secret)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}
