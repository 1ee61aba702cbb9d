// HTTP/3's framing as WebTransport (draft-02) uses it: QUIC variable-length integers, frames, SETTINGS,
// and a reader that takes them one at a time off a stream's bytes and hands the rest on as a stream.
import { concatBytes } from '../mesh/bytes.ts';
import { MeshError } from '../protocol/errors.ts';

/** HTTP/3 error codes (RFC 9114 §8.1) this endpoint sends. */
export const H3 = {
  generalProtocolError: 0x101,
  internalError: 0x102,
  frameUnexpected: 0x105,
  frameError: 0x106,
  settingsError: 0x109,
  requestRejected: 0x10b,
  messageError: 0x10e,
} as const;

export class H3Error extends MeshError {
  /** What goes in the stream's RESET_STREAM / STOP_SENDING. */
  readonly h3Code: number;
  constructor(h3Code: number, message: string) {
    super('h3_malformed', message);
    this.name = 'H3Error';
    this.h3Code = h3Code;
  }
}

export const FRAME = { data: 0x00, headers: 0x01, settings: 0x04, goaway: 0x07 } as const;
export const UNI = { control: 0x00, push: 0x01, qpackEncoder: 0x02, qpackDecoder: 0x03, webTransport: 0x54 } as const;
/** Opens a WebTransport bidirectional stream, in place of a frame type: then the session id. */
export const WEBTRANSPORT_STREAM = 0x41;

/** SETTINGS identifiers a draft-02 WebTransport server announces (Chrome needs all of them). */
export const SETTING = {
  qpackMaxTableCapacity: 0x01,
  enableConnectProtocol: 0x08,
  h3Datagram: 0x33,
  h3DatagramDraft04: 0xffd277,
  enableWebTransport: 0x2b603742,
} as const;

export function encodeVarint(value: number): Uint8Array {
  if (value < 0x40) return Uint8Array.of(value);
  if (value < 0x4000) return Uint8Array.of(0x40 | (value >> 8), value & 0xff);
  if (value < 0x40000000) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value + 0x80000000);
    return out;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value) | (0b11n << 62n));
  return out;
}

/** Bytes a varint takes, read from its first byte. */
function varintLength(first: number): number {
  return 1 << (first >> 6);
}

/** The varint at the start of `bytes` (which must hold all of it). */
function decodeVarint(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes.length) {
    case 1:
      return bytes[0] & 0x3f;
    case 2:
      return view.getUint16(0) & 0x3fff;
    case 4:
      return view.getUint32(0) & 0x3fffffff;
    default:
      return Number(view.getBigUint64(0) & ((1n << 62n) - 1n));
  }
}

export { concatBytes };

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  return concatBytes(encodeVarint(type), encodeVarint(payload.length), payload);
}

export function encodeSettings(settings: ReadonlyMap<number, number>): Uint8Array {
  return encodeFrame(FRAME.settings, concatBytes(...[...settings].flatMap(([id, value]) => [encodeVarint(id), encodeVarint(value)])));
}

export function decodeSettings(payload: Uint8Array): Map<number, number> {
  const settings = new Map<number, number>();
  let at = 0;
  const next = () => {
    if (at >= payload.length) throw new H3Error(H3.frameError, 'a SETTINGS frame ends inside a setting');
    const n = varintLength(payload[at]);
    if (at + n > payload.length) throw new H3Error(H3.frameError, 'a SETTINGS frame ends inside a setting');
    const value = decodeVarint(payload.subarray(at, at + n));
    at += n;
    return value;
  };
  while (at < payload.length) {
    const id = next();
    if (settings.has(id)) throw new H3Error(H3.settingsError, `SETTINGS names ${id} twice`);
    settings.set(id, next());
  }
  return settings;
}

/** Reads varints and byte runs off a stream, then hands what is left on as a stream of its own. */
export class StreamReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.reader = readable.getReader();
  }

  /** True once `n` bytes are buffered; false when the stream ended first. */
  private async fill(n: number): Promise<boolean> {
    while (this.buffer.length < n) {
      const { done, value } = await this.reader.read();
      if (done) return false;
      this.buffer = this.buffer.length === 0 ? value : concatBytes(this.buffer, value);
    }
    return true;
  }

  /** The next varint; undefined where the stream ends cleanly before it. */
  async varint(): Promise<number | undefined> {
    if (!(await this.fill(1))) return undefined;
    const n = varintLength(this.buffer[0]);
    if (!(await this.fill(n))) throw new H3Error(H3.frameError, 'the stream ends inside an integer');
    const value = decodeVarint(this.buffer.subarray(0, n));
    this.buffer = this.buffer.subarray(n);
    return value;
  }

  async bytes(n: number): Promise<Uint8Array> {
    if (!(await this.fill(n))) throw new H3Error(H3.frameError, 'the stream ends inside a frame');
    const out = this.buffer.slice(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** The next frame, refusing one longer than `maxLength` (nothing makes this side buffer without bound). */
  async frame(maxLength: number): Promise<{ type: number; payload: Uint8Array } | undefined> {
    const type = await this.varint();
    if (type === undefined) return undefined;
    return { type, payload: await this.payload(maxLength, type) };
  }

  /** A frame's length and payload, once its type was read. */
  async payload(maxLength: number, type: number): Promise<Uint8Array> {
    const length = await this.varint();
    if (length === undefined) throw new H3Error(H3.frameError, 'the stream ends inside a frame');
    if (length > maxLength) throw new H3Error(H3.frameError, `a frame of type ${type} is ${length} bytes, more than the ${maxLength} allowed`);
    return this.bytes(length);
  }

  /** Reads and drops everything until the stream ends. */
  async drain(): Promise<void> {
    this.buffer = new Uint8Array(0);
    while (!(await this.reader.read()).done) {}
  }

  cancel(reason: unknown): void {
    this.reader.cancel(reason).catch(() => {});
  }

  /** The rest of the stream: what is buffered, then what follows; cancelling it cancels the stream. */
  rest(): ReadableStream<Uint8Array> {
    let first: Uint8Array | undefined = this.buffer.length > 0 ? this.buffer : undefined;
    this.buffer = new Uint8Array(0);
    const reader = this.reader;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (first) {
          controller.enqueue(first);
          first = undefined;
          return;
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }
}
