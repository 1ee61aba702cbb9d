// The membership handshake on a libp2p stream: the verifier sends a random challenge, the prover
// answers with the HMAC of src/mesh/membership.ts (bound to the mesh and both Noise-authenticated
// peer ids). Each side of a connection verifies the other on its own stream, so a peer is trusted
// only once it answered, and one that cannot answer is refused by everyone it meets.
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { createChallenge, proveMembership, verifyMembership, CHALLENGE_BYTES } from '../membership.ts';
import type { MeshAccess } from '../mesh-keys.ts';
import { MEMBERSHIP_PROTOCOL } from './protocols.ts';

export type PrivateMesh = Extract<MeshAccess, { visibility: 'private' }>;

/** Long enough for a relayed stream on a loaded machine; a member answers in milliseconds. */
export const MEMBERSHIP_TIMEOUT_MS = 10_000;
const MAX_FRAME = 64;

/**
 * `timedOut`: no answer in time on a connection that stays open, which on a loaded machine (three
 * browsers starting at once on two cores) says nothing about membership: the caller asks again.
 */
export type MembershipOutcome = { ok: true } | { ok: false; reason: string; timedOut: boolean };

/** Opens a membership stream on `connection` and checks the remote's answer. Never throws. */
export async function challengePeer(
  connection: Connection,
  mesh: PrivateMesh,
  selfPeerId: string,
  timeoutMs = MEMBERSHIP_TIMEOUT_MS,
): Promise<MembershipOutcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  let stream: Stream | undefined;
  try {
    stream = await connection.newStream(MEMBERSHIP_PROTOCOL, { signal, runOnLimitedConnection: true });
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME });
    const challenge = createChallenge();
    await lp.write(challenge, { signal });
    const proof = (await lp.read({ signal })).subarray();
    const context = { proverPeerId: connection.remotePeer.toString(), verifierPeerId: selfPeerId, challenge };
    const ok = await verifyMembership(mesh, context, proof);
    await stream.close({ signal }).catch(() => stream?.abort(new Error('membership stream close failed')));
    return ok ? { ok: true } : { ok: false, reason: 'wrong membership proof: the peer does not hold this mesh secret', timedOut: false };
  } catch (error) {
    stream?.abort(error instanceof Error ? error : new Error(String(error)));
    return { ok: false, reason: `no membership proof (${error instanceof Error ? error.message : String(error)})`, timedOut: signal.aborted };
  }
}

/** Stream handler: answers one challenge with this peer's proof. */
export async function answerChallenge(
  stream: Stream,
  connection: Connection,
  mesh: PrivateMesh,
  selfPeerId: string,
  timeoutMs = MEMBERSHIP_TIMEOUT_MS,
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME });
    const challenge = (await lp.read({ signal })).subarray();
    if (challenge.length !== CHALLENGE_BYTES) throw new Error(`a challenge is ${CHALLENGE_BYTES} bytes, got ${challenge.length}`);
    const proof = await proveMembership(mesh, { proverPeerId: selfPeerId, verifierPeerId: connection.remotePeer.toString(), challenge });
    await lp.write(proof, { signal });
    await stream.close({ signal });
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
