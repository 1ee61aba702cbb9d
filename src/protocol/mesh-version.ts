// The mesh wire protocol version: peers refuse announcements and messages of another version with a
// message that says which side to update, since mixed versions would disagree on plans and frames.

export const MESH_PROTOCOL_VERSION = 1;

export type PeerRole = 'server' | 'client';
export const PEER_ROLES: readonly PeerRole[] = ['server', 'client'];

export type PeerBackend = 'webgpu' | 'wasm' | 'node';
export const PEER_BACKENDS: readonly PeerBackend[] = ['webgpu', 'wasm', 'node'];

export function versionMismatchReason(theirs: number): string {
  return theirs > MESH_PROTOCOL_VERSION
    ? `peer speaks mesh protocol ${theirs}, this app speaks ${MESH_PROTOCOL_VERSION}: reload or update this app to join it`
    : `peer speaks mesh protocol ${theirs}, this app speaks ${MESH_PROTOCOL_VERSION}: that peer must update its app`;
}
