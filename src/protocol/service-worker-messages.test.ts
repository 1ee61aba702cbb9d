// The bridge's messages are checked on arrival: anything off-version, mistyped or pointing outside
// /v1 is ignored rather than acted on (a page and its worker may come from different builds).
import { describe, expect, it } from 'vitest';
import {
  isApiAbortMessage,
  isApiReplyMessage,
  isApiRequestMessage,
  isApiServerQuery,
  isPageToWorkerMessage,
  SW_PROTOCOL_VERSION,
} from './service-worker-messages.ts';

const v = SW_PROTOCOL_VERSION;
const request = {
  v,
  type: 'api-request',
  method: 'POST',
  url: 'http://127.0.0.1:8080/v1/chat/completions',
  headers: [['content-type', 'application/json']],
  body: new ArrayBuffer(3),
};

describe('service-worker messages', () => {
  it('accepts the shell messages and a page announcing what it serves', () => {
    expect(isPageToWorkerMessage({ v, type: 'skip-waiting' })).toBe(true);
    expect(isPageToWorkerMessage({ v, type: 'shell-version' })).toBe(true);
    expect(isPageToWorkerMessage({ v, type: 'api-server', models: [] })).toBe(true);
    expect(isPageToWorkerMessage({ v, type: 'api-server', models: [{ id: 'tiny', priority: 50, from: 'tab' }] })).toBe(true);
  });

  it('refuses other versions, unknown types and malformed model lists', () => {
    expect(isPageToWorkerMessage({ v: v + 1, type: 'skip-waiting' })).toBe(false);
    expect(isPageToWorkerMessage({ v, type: 'api-serve' })).toBe(false);
    expect(isPageToWorkerMessage(null)).toBe(false);
    expect(isPageToWorkerMessage({ v, type: 'api-server' })).toBe(false);
    expect(isPageToWorkerMessage({ v, type: 'api-server', models: [{ id: '', priority: 50, from: 'tab' }] })).toBe(false);
    expect(isPageToWorkerMessage({ v, type: 'api-server', models: [{ id: 'x', priority: Number.NaN, from: 'tab' }] })).toBe(false);
    expect(isPageToWorkerMessage({ v, type: 'api-server', models: [{ id: 'x', priority: 1, from: 'has space' }] })).toBe(false);
  });

  it('takes a request only for /v1 with a method, header pairs and an ArrayBuffer or null body', () => {
    expect(isApiRequestMessage(request)).toBe(true);
    expect(isApiRequestMessage({ ...request, method: 'GET', body: null })).toBe(true);
    expect(isApiRequestMessage({ ...request, url: 'http://127.0.0.1:8080/index.html' })).toBe(false);
    expect(isApiRequestMessage({ ...request, url: 'not a url' })).toBe(false);
    expect(isApiRequestMessage({ ...request, method: 'post' })).toBe(false);
    expect(isApiRequestMessage({ ...request, headers: [['a']] })).toBe(false);
    expect(isApiRequestMessage({ ...request, body: 'text' })).toBe(false);
    expect(isApiServerQuery({ v, type: 'api-server-query' })).toBe(true);
    expect(isApiServerQuery({ v: 0, type: 'api-server-query' })).toBe(false);
  });

  it('checks each reply on a request port, and the abort', () => {
    expect(isApiReplyMessage({ v, type: 'api-accepted' })).toBe(true);
    expect(isApiReplyMessage({ v, type: 'api-head', status: 200, statusText: '', headers: [['x', 'y']] })).toBe(true);
    expect(isApiReplyMessage({ v, type: 'api-head', status: 99, statusText: '', headers: [] })).toBe(false);
    expect(isApiReplyMessage({ v, type: 'api-chunk', chunk: new Uint8Array(2) })).toBe(true);
    expect(isApiReplyMessage({ v, type: 'api-chunk', chunk: [1, 2] })).toBe(false);
    expect(isApiReplyMessage({ v, type: 'api-end' })).toBe(true);
    expect(isApiReplyMessage({ v, type: 'api-error', message: 'boom' })).toBe(true);
    expect(isApiReplyMessage({ v, type: 'api-error' })).toBe(false);
    expect(isApiAbortMessage({ v, type: 'api-abort' })).toBe(true);
    expect(isApiAbortMessage({ type: 'api-abort' })).toBe(false);
  });
});
