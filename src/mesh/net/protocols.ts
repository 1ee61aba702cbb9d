// Names on the wire of the mesh's libp2p protocols and gossip topic. The membership handshake runs
// first on every connection; the activation stream (binary frames of
// src/protocol/mesh-activation-frame.ts) carries hidden states between pipeline stages.
import { GOSSIP_TOPIC_PREFIX } from '../../protocol/mesh-messages.ts';

export const MEMBERSHIP_PROTOCOL = '/mesh-llm-web/membership/1.0.0';
/** Reserved for the pipeline increment: one stream per inference session between adjacent stages. */
export const ACTIVATION_PROTOCOL = '/mesh-llm-web/activation/1.0.0';

/** The pubsub topic of one mesh: only its members publish there (others are refused at connect). */
export function meshTopic(meshId: string): string {
  return `${GOSSIP_TOPIC_PREFIX}${meshId}`;
}
/** Timed echoes: a server measures its round trip to the head on it (rtt-stream.ts). Members only. */
export const RTT_PROTOCOL = '/mesh-llm-web/rtt/1.0.0';
/** A member's /v1 requests to the head and its streamed answers (api-stream.ts, frames of src/protocol/mesh-api.ts). Members only. */
export const API_PROTOCOL = '/mesh-llm-web/api/1.0.0';
/** The head hands a member the invite of the mesh's new secret when it rotates it (rekey.ts). Members only, from the head only. */
export const REKEY_PROTOCOL = '/mesh-llm-web/rekey/1.0.0';
