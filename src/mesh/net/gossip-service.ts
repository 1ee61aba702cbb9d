// The gossipsub service every mesh node runs (tabs and the companion alike), with the settings
// a small mesh needs. @libp2p/gossipsub, not the chainsafe one (silent under libp2p 3).
import { gossipsub } from '@libp2p/gossipsub';

export function gossipService() {
  // Publishing while alone is normal (the first peer of a mesh); later peers get state on the next tick.
  // A short heartbeat grafts new members into the topic mesh quickly (the default is 1 s).
  return gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, heartbeatInterval: 700 });
}
