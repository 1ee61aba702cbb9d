// A peer's identity: a Nostr key (secp256k1, signs announcements) and a libp2p key (Ed25519, its
// peer id on connections), bound to each other both ways: the libp2p key signs the Nostr pubkey,
// and the Nostr key signs events naming the peer id. So nobody can announce someone else's peer
// id, nor claim someone else's Nostr identity on a connection. Storage is injected.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent, type Event } from 'nostr-tools/pure';
import { MeshError } from '../protocol/errors.ts';
import { fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from './bytes.ts';

export interface MeshIdentity {
  readonly nostrSecretKey: Uint8Array;
  /** 64 hex chars, as in Nostr events. */
  readonly nostrPubkey: string;
  readonly libp2pKey: PrivateKey;
  /** base58 "12D3KooW…", derived from libp2pKey. */
  readonly peerId: string;
}

/** What is persisted; plain strings so it survives JSON and structured clone alike. */
export interface IdentityRecord {
  readonly version: 1;
  readonly nostrSecretKey: string;
  readonly libp2pPrivateKey: string;
  readonly createdAt: number;
}

export interface IdentityStore {
  /** The stored record, unchecked (it may be from an old version or damaged), or undefined. */
  load(): Promise<unknown>;
  save(record: IdentityRecord): Promise<void>;
}

export async function createIdentity(): Promise<MeshIdentity> {
  const nostrSecretKey = generateSecretKey();
  const libp2pKey = await generateKeyPair('Ed25519');
  return { nostrSecretKey, nostrPubkey: getPublicKey(nostrSecretKey), libp2pKey, peerId: libp2pKey.publicKey.toString() };
}

export function identityToRecord(identity: MeshIdentity, now = Date.now()): IdentityRecord {
  return {
    version: 1,
    nostrSecretKey: toHex(identity.nostrSecretKey),
    libp2pPrivateKey: toBase64Url(privateKeyToProtobuf(identity.libp2pKey)),
    createdAt: now,
  };
}

export function identityFromRecord(record: unknown): MeshIdentity {
  const r = record as Partial<IdentityRecord> | null;
  if (typeof r !== 'object' || r === null || r.version !== 1) throw corrupt('it is not a version 1 identity record');
  const nostrSecretKey = typeof r.nostrSecretKey === 'string' && r.nostrSecretKey.length === 64 ? fromHex(r.nostrSecretKey) : undefined;
  const libp2pBytes = typeof r.libp2pPrivateKey === 'string' ? fromBase64Url(r.libp2pPrivateKey) : undefined;
  if (!nostrSecretKey || !libp2pBytes) throw corrupt('a key is missing or not encoded as expected');
  let libp2pKey: PrivateKey;
  let nostrPubkey: string;
  try {
    libp2pKey = privateKeyFromProtobuf(libp2pBytes);
    nostrPubkey = getPublicKey(nostrSecretKey);
  } catch (cause) {
    throw corrupt('a key does not decode', cause);
  }
  if (libp2pKey.type !== 'Ed25519') throw corrupt(`the libp2p key is ${libp2pKey.type}, expected Ed25519`);
  return { nostrSecretKey, nostrPubkey, libp2pKey, peerId: libp2pKey.publicKey.toString() };
}

function corrupt(why: string, cause?: unknown): MeshError {
  return new MeshError('identity_corrupt', `the stored peer identity is unusable (${why}); a new one will be created`, { cause });
}

export interface LoadedIdentity {
  readonly identity: MeshIdentity;
  /** True when no usable identity was stored and a new one was made and saved. */
  readonly created: boolean;
  /** Why the stored one was replaced, when it was damaged. */
  readonly replaced?: MeshError;
}

/** The stored identity, or a new one saved in its place; a damaged record is replaced, not fatal. */
export async function loadOrCreateIdentity(store: IdentityStore): Promise<LoadedIdentity> {
  const stored = await store.load();
  let replaced: MeshError | undefined;
  if (stored !== undefined) {
    try {
      return { identity: identityFromRecord(stored), created: false };
    } catch (error) {
      if (!(error instanceof MeshError)) throw error;
      replaced = error;
    }
  }
  const identity = await createIdentity();
  await store.save(identityToRecord(identity));
  return replaced ? { identity, created: true, replaced } : { identity, created: true };
}

/** What the libp2p key signs: it names the Nostr key allowed to speak for this peer id. */
export function bindingMessage(nostrPubkey: string, peerId: string): Uint8Array<ArrayBuffer> {
  return utf8(`mesh-llm-web/peer-binding/v1\n${nostrPubkey}\n${peerId}`);
}

export interface PeerBinding {
  readonly peerId: string;
  /** libp2p public key, protobuf, base64url. */
  readonly libp2pKey: string;
  /** libp2p signature over bindingMessage(nostrPubkey, peerId), base64url. */
  readonly binding: string;
}

export async function signBinding(identity: MeshIdentity): Promise<PeerBinding> {
  const signature = await identity.libp2pKey.sign(bindingMessage(identity.nostrPubkey, identity.peerId));
  return { peerId: identity.peerId, libp2pKey: toBase64Url(publicKeyToProtobuf(identity.libp2pKey.publicKey)), binding: toBase64Url(signature) };
}

export type BindingCheck = { ok: true } | { ok: false; reason: string };

/** Whether `binding` proves that its peer id's key vouches for `nostrPubkey`. Never throws. */
export async function verifyBinding(nostrPubkey: string, binding: PeerBinding): Promise<BindingCheck> {
  try {
    const keyBytes = fromBase64Url(binding.libp2pKey);
    const signature = fromBase64Url(binding.binding);
    if (!keyBytes || !signature) return { ok: false, reason: 'libp2p key or binding signature is not base64url' };
    const publicKey = publicKeyFromProtobuf(keyBytes);
    if (publicKey.toString() !== binding.peerId) return { ok: false, reason: `the libp2p key belongs to ${publicKey.toString()}, not ${binding.peerId}` };
    const valid = await publicKey.verify(bindingMessage(nostrPubkey, binding.peerId), signature);
    return valid ? { ok: true } : { ok: false, reason: `peer ${binding.peerId} did not sign a binding to Nostr key ${nostrPubkey}` };
  } catch (error) {
    return { ok: false, reason: `libp2p key does not decode (${error instanceof Error ? error.message : 'unknown error'})` };
  }
}

/**
 * Ephemeral kind (20000–29999: relays do not store it) for a peer proof: a Nostr event naming the
 * peer id and carrying the libp2p binding, sent over a fresh libp2p connection so each side learns
 * the other's Nostr identity with both keys vouching.
 */
export const PEER_PROOF_KIND = 28_671;
export const PEER_PROOF_MAX_AGE_S = 300;

export async function createPeerProof(identity: MeshIdentity, now = Math.floor(Date.now() / 1000)): Promise<Event> {
  const b = await signBinding(identity);
  return finalizeEvent({ kind: PEER_PROOF_KIND, created_at: now, content: '', tags: [['peer', b.peerId, b.libp2pKey, b.binding]] }, identity.nostrSecretKey);
}

export type PeerProofCheck = { ok: true; nostrPubkey: string; peerId: string } | { ok: false; reason: string };

/** Checks a peer proof received on a connection from `connectedPeerId`. Never throws. */
export async function verifyPeerProof(event: unknown, connectedPeerId: string, now = Math.floor(Date.now() / 1000)): Promise<PeerProofCheck> {
  try {
    const e = event as Event;
    if (typeof e !== 'object' || e === null || e.kind !== PEER_PROOF_KIND || !Array.isArray(e.tags)) return { ok: false, reason: 'not a peer proof event' };
    if (typeof e.created_at !== 'number' || Math.abs(now - e.created_at) > PEER_PROOF_MAX_AGE_S)
      return { ok: false, reason: 'peer proof is stale or from the future' };
    if (!verifyEventFresh(e)) return { ok: false, reason: 'peer proof has a bad Nostr signature' };
    const tag = e.tags.find((t) => Array.isArray(t) && t[0] === 'peer');
    if (tag?.length !== 4 || tag.some((v) => typeof v !== 'string')) return { ok: false, reason: 'peer proof has no well-formed peer tag' };
    if (tag[1] !== connectedPeerId) return { ok: false, reason: `peer proof names ${tag[1]}, but the connection is from ${connectedPeerId}` };
    const binding = await verifyBinding(e.pubkey, { peerId: tag[1], libp2pKey: tag[2], binding: tag[3] });
    return binding.ok ? { ok: true, nostrPubkey: e.pubkey, peerId: tag[1] } : binding;
  } catch {
    return { ok: false, reason: 'peer proof is not a well-formed Nostr event' };
  }
}

/**
 * verifyEvent trusts a cached "verified" symbol on the object, which survives `{ ...event }` copies
 * with edited fields; checking a fresh object with only the signed fields avoids that.
 */
export function verifyEventFresh(e: Event): boolean {
  return verifyEvent({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig });
}
