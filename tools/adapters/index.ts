// Whole-model engines behind one TextEngine interface: ours, wllama and web-llm.
export {
  collectText,
  type TextEngine,
  type TextEngineKind,
  type TextEvent,
  type TextGenerateRequest,
  type TextMessage,
  type TextPrompt,
} from './text-engine.ts';
export { AdapterError, type AdapterErrorCode } from './errors.ts';
export { MeshTextEngine } from './mesh-text-engine.ts';
export { loadWllamaTextEngine, WllamaTextEngine, type WllamaTextEngineOptions } from './wllama-text-engine.ts';
export { loadWebLlmTextEngine, WebLlmTextEngine, type WebLlmTextEngineOptions } from './web-llm-text-engine.ts';
export { webLlmAppConfig, webLlmRequestFields, type WebLlmModelLocation } from './web-llm-request.ts';
export { wllamaSamplingParams } from './wllama-request.ts';
