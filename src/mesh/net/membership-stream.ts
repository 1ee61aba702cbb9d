// The membership handshake on a libp2p stream: the verifier sends a random challenge, the prover
// answers with the HMAC of src/mesh/membership.ts (bound to the mesh and both Noise-authenticated
// peer ids). Each side of a connection verifies the other on its own stream, so a peer is trusted
// only once it answered, and one that cannot answer is refused by everyone it meets. A member that
// holds a credential from the head (credentials.ts) sends it as a second frame after its proof; a
// verifier with an admission policy (a head that requires credentials, or a member checking the
// head's deny list) reads it and refuses a peer whose credential it does not accept.
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { MAX_CREDENTIAL_BYTES } from '../credential-format.ts';
import { fromUtf8, utf8 } from '../bytes.ts';
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

/** What a verifier asks besides the proof: a credential it accepts (a reason refuses the peer). */
export interface Admission {
  /** `credential`: what the prover sent after its proof (undefined: nothing). */
  check(credential: unknown, proverPeerId: string): string | undefined;
}

/** Refusals for a credential start with this, so a caller tells them from a lost connection. */
export const CREDENTIAL_REFUSED = 'credential refused';

/** Opens a membership stream on `connection` and checks the remote's answer. Never throws. */
export async function challengePeer(
  connection: Connection,
  mesh: PrivateMesh,
  selfPeerId: string,
  timeoutMs = MEMBERSHIP_TIMEOUT_MS,
  admission?: Admission,
): Promise<MembershipOutcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  let stream: Stream | undefined;
  try {
    stream = await connection.newStream(MEMBERSHIP_PROTOCOL, { signal, runOnLimitedConnection: true });
    const lp = lpStream(stream, { maxDataLength: admission ? MAX_CREDENTIAL_BYTES : MAX_FRAME });
    const challenge = createChallenge();
    await lp.write(challenge, { signal });
    const proof = (await lp.read({ signal })).subarray();
    const context = { proverPeerId: connection.remotePeer.toString(), verifierPeerId: selfPeerId, challenge };
    const ok = await verifyMembership(mesh, context, proof);
    let refusal: string | undefined;
    if (ok && admission) {
      // The prover's credential frame, if it sent one (an older peer closes after its proof).
      const frame = await lp.read({ signal }).then(
        (f) => f.subarray(),
        () => undefined,
      );
      let credential: unknown;
      try {
        credential = frame ? JSON.parse(fromUtf8(frame) ?? '') : undefined;
      } catch {
        credential = undefined;
      }
      const why = admission.check(credential, context.proverPeerId);
      if (why !== undefined) refusal = `${CREDENTIAL_REFUSED}: ${why}`;
    }
    await stream.close({ signal }).catch(() => stream?.abort(new Error('membership stream close failed')));
    if (!ok) return { ok: false, reason: 'wrong membership proof: the peer does not hold this mesh secret', timedOut: false };
    return refusal === undefined ? { ok: true } : { ok: false, reason: refusal, timedOut: false };
  } catch (error) {
    stream?.abort(error instanceof Error ? error : new Error(String(error)));
    return { ok: false, reason: `no membership proof (${error instanceof Error ? error.message : String(error)})`, timedOut: signal.aborted };
  }
}

/** Stream handler: answers one challenge with this peer's proof (and its credential, when it holds one). */
export async function answerChallenge(
  stream: Stream,
  connection: Connection,
  mesh: PrivateMesh,
  selfPeerId: string,
  timeoutMs = MEMBERSHIP_TIMEOUT_MS,
  credential?: unknown,
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME });
    const challenge = (await lp.read({ signal })).subarray();
    if (challenge.length !== CHALLENGE_BYTES) throw new Error(`a challenge is ${CHALLENGE_BYTES} bytes, got ${challenge.length}`);
    const proof = await proveMembership(mesh, { proverPeerId: selfPeerId, verifierPeerId: connection.remotePeer.toString(), challenge });
    await lp.write(proof, { signal });
    if (credential !== undefined) await lp.write(utf8(JSON.stringify(credential)), { signal });
    await stream.close({ signal });
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
