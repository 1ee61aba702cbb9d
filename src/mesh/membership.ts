// Proof of membership in a private mesh when two peers connect: each sends a random challenge and
// answers the other's with an HMAC under a key only secret holders can derive (mesh-keys.ts),
// bound to the mesh and to both peer ids (which the libp2p Noise handshake authenticates), so an
// answer cannot be replayed to another peer or relayed between two others.
import { concatBytes, randomBytes, utf8 } from './bytes.ts';
import type { MeshAccess } from './mesh-keys.ts';

export const CHALLENGE_BYTES = 32;

type PrivateMesh = Extract<MeshAccess, { visibility: 'private' }>;

export interface MembershipContext {
  /** The peer answering the challenge. */
  readonly proverPeerId: string;
  /** The peer that sent the challenge and checks the answer. */
  readonly verifierPeerId: string;
  readonly challenge: Uint8Array;
}

export function createChallenge(): Uint8Array<ArrayBuffer> {
  return randomBytes(CHALLENGE_BYTES);
}

function transcript(mesh: PrivateMesh, c: MembershipContext): Uint8Array<ArrayBuffer> {
  return concatBytes(utf8(`mesh-llm-web/membership/v1\n${mesh.meshId}\n${c.proverPeerId}\n${c.verifierPeerId}\n`), c.challenge);
}

export async function proveMembership(mesh: PrivateMesh, context: MembershipContext): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', mesh.memberKey, transcript(mesh, context)));
}

/** Constant-time check of an answer; false (never a throw) for anything that is not the right answer. */
export async function verifyMembership(mesh: PrivateMesh, context: MembershipContext, proof: unknown): Promise<boolean> {
  if (!(proof instanceof Uint8Array) || proof.length !== 32 || context.challenge.length !== CHALLENGE_BYTES) return false;
  try {
    return await crypto.subtle.verify('HMAC', mesh.memberKey, new Uint8Array(proof), transcript(mesh, context));
  } catch {
    return false;
  }
}
