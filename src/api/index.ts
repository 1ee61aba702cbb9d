// The HTTP API's public surface: one Fetch-API handler and the provider interface engines implement.
// The Node adapter (node-adapter.ts) is imported directly, so browser bundles never see node:http.
export { handleApiRequest, errorResponse, speaks, API_PATHS, type Protocol } from './handler.ts';
export { createApiContext, type ApiContext, type ApiOptions, type RequestInfo } from './context.ts';
export type { ModelProvider, ModelDescriptor, ModelText, Generation, GenerateRequest, ServedBy } from '../provider/provider.ts';
export { EngineProvider, type EngineModel, type EngineProviderOptions, type PrefillStats } from '../provider/engine-provider.ts';
export { SessionCache, type SessionCacheOptions } from '../provider/session-cache.ts';
export { type QueueOptions, DEFAULT_QUEUE } from './queue.ts';
