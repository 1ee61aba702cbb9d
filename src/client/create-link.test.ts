// The create link: what it accepts, what it refuses with a message that says what to fix, and that
// only a model on the app's own origin is created without a click.
import { describe, expect, it } from 'vitest';
import { readCreateLink } from './create-link.ts';
import { headModel, modelUrlFor } from './head-model.ts';

const APP = 'http://127.0.0.1:8080';
const link = (hash: string) => `${APP}/#${hash}`;
const same = encodeURIComponent(`${APP}/models/tiny-llama-q8_0.gguf`);

describe('readCreateLink', () => {
  it('reads a same-origin model, role, budget and relay, and creates without a click', () => {
    expect(readCreateLink(link(`create=private&model=${same}&role=client&auto=1&budget=8m&relay=ws://127.0.0.1:7777`), APP)).toEqual({
      model: { url: `${APP}/models/tiny-llama-q8_0.gguf`, id: 'tiny-llama-q8_0' },
      role: 'client',
      auto: true,
      budgetBytes: 8 * 1024 * 1024,
      relay: 'ws://127.0.0.1:7777',
    });
  });

  it('defaults to a server that waits for a click, with no relay of its own', () => {
    expect(readCreateLink(`${APP}/?create=private&model=${same}`, APP)).toEqual({
      model: { url: `${APP}/models/tiny-llama-q8_0.gguf`, id: 'tiny-llama-q8_0' },
      role: 'server',
      auto: false,
    });
  });

  it('asks for a click for a model on another origin, even with auto=1, and says why', () => {
    const other = encodeURIComponent('https://models.example/x/qwen.gguf');
    const request = readCreateLink(link(`create=private&model=${other}&auto=1`), APP);
    expect(request).toMatchObject({ model: { id: 'qwen' }, auto: false, needsClick: expect.stringMatching(/https:\/\/models\.example.*click Create/) });
    // The same host on another port is another origin.
    expect(readCreateLink(link(`create=private&model=${encodeURIComponent('http://127.0.0.1:9999/models/a.gguf')}&auto=1`), APP)?.auto).toBe(false);
  });

  it('refuses a bad URL, a file that is not a .gguf, another visibility and a relay that is not ws(s)', () => {
    expect(() => readCreateLink(link('create=private&model=models/a.gguf'), APP)).toThrow(
      expect.objectContaining({ code: 'create_bad_model_url', message: expect.stringMatching(/not an absolute URL/) }),
    );
    expect(() => readCreateLink(link('create=private'), APP)).toThrow(expect.objectContaining({ code: 'create_bad_model_url' }));
    expect(() => readCreateLink(link(`create=private&model=${encodeURIComponent('file:///tmp/a.gguf')}`), APP)).toThrow(
      expect.objectContaining({ code: 'create_bad_model_url' }),
    );
    expect(() => readCreateLink(link(`create=private&model=${encodeURIComponent(`${APP}/models/a.bin`)}`), APP)).toThrow(
      expect.objectContaining({ code: 'create_not_gguf', message: expect.stringMatching(/“a\.bin”/) }),
    );
    expect(() => readCreateLink(link(`create=private&model=${encodeURIComponent(`${APP}/.gguf`)}`), APP)).toThrow(
      expect.objectContaining({ code: 'create_not_gguf' }),
    );
    expect(() => readCreateLink(link(`create=public&model=${same}`), APP)).toThrow(expect.objectContaining({ code: 'create_bad_visibility' }));
    expect(() => readCreateLink(link(`create=private&model=${same}&relay=https://relay.example`), APP)).toThrow(
      expect.objectContaining({ code: 'create_bad_relay' }),
    );
    expect(() => readCreateLink(link(`create=private&model=${same}&ice=${encodeURIComponent('http://stun.example')}`), APP)).toThrow(
      expect.objectContaining({ code: 'create_bad_ice', message: expect.stringMatching(/not an ICE server/) }),
    );
  });

  it('carries the STUN/TURN servers its mesh’s invite is to name', () => {
    const ice = encodeURIComponent('stun:stun.example:3478,u:p@turn:turn.example:3478');
    expect(readCreateLink(link(`create=private&model=${same}&ice=${ice}`), APP)?.iceServers).toEqual([
      { urls: 'stun:stun.example:3478' },
      { urls: 'turn:turn.example:3478', username: 'u', credential: 'p' },
    ]);
    expect(readCreateLink(link(`create=private&model=${same}`), APP)?.iceServers).toBeUndefined();
  });

  it('is absent from links that create nothing', () => {
    expect(readCreateLink(link('join=abc&auto=1'), APP)).toBeUndefined();
    expect(readCreateLink('not a url', APP)).toBeUndefined();
  });
});

describe('headModel and modelUrlFor', () => {
  it('names a model by its file name, decoded, without .gguf', () => {
    expect(headModel('https://h.example/a/My%20Model.GGUF?x=1')).toEqual({ url: 'https://h.example/a/My%20Model.GGUF?x=1', id: 'My Model' });
  });

  it('sends a member to the invite’s model URL when it names that model, else to the app’s /models/', () => {
    expect(modelUrlFor('qwen', 'https://models.example/x/qwen.gguf', APP)).toBe('https://models.example/x/qwen.gguf');
    expect(modelUrlFor('other', 'https://models.example/x/qwen.gguf', APP)).toBe(`${APP}/models/other.gguf`);
    expect(modelUrlFor('tiny-llama-q8_0', 'tiny-llama-q8_0', APP)).toBe(`${APP}/models/tiny-llama-q8_0.gguf`);
    expect(modelUrlFor('tiny-llama-q8_0', undefined, APP)).toBe(`${APP}/models/tiny-llama-q8_0.gguf`);
  });
});
