// Chat templates rendered as llama.cpp renders them: its own test cases (tests/test-chat-template.cpp,
// the expected output of its Jinja path), real model templates it ships (models/templates), and the
// templates inside the shipped vocabulary GGUFs, tokenized end to end.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { llamaCppSource } from '../../tools/llama-source.ts';
import { CONVERSATION, readChatTemplateCases } from '../../tools/tokenizer/chat-template-vectors.ts';
import { CHATML_TEMPLATE, ChatTemplate, chatTemplateFor } from './chat-template.ts';
import { TokenizerError } from './errors.ts';
import { vocabMetadata } from '../../tools/tokenizer/test-vectors.ts';
import { Tokenizer } from './tokenizer.ts';

describe("llama.cpp's chat template test cases", () => {
  const cases = readChatTemplateCases();
  it('are all read', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const names = cases.map((c) => c.name).join('\n');
    for (const family of ['OpenHermes', 'Mistral-7B-Instruct-v0.2', 'gemma-7b-it', 'Llama-3', 'Phi-3-mini', 'Mistral-Nemo']) expect(names).toContain(family);
  });
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const t = new ChatTemplate(c.template, { bosToken: c.bosToken, eosToken: c.eosToken });
    expect(t.render(CONVERSATION).replaceAll('\r\n', '\n')).toBe(c.expected);
  });
});

describe('real model templates', () => {
  const conversation = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello!' },
    { role: 'user', content: 'Name a color.' },
  ];
  const render = (file: string) => {
    const source = readFileSync(join(llamaCppSource(), 'models', 'templates', `${file}.jinja`), 'utf8');
    // the tokenizer adds BOS itself, so a BOS the template writes is dropped (as llama.cpp does)
    return new ChatTemplate(source, { bosToken: '<s>', eosToken: '</s>', addBos: true });
  };
  it('llama 3.1', () => {
    const t = render('meta-llama-Llama-3.1-8B-Instruct');
    expect(t.family).toBe('llama3');
    expect(t.render(conversation)).toBe(
      '<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });
  it('qwen 2.5 (chatml)', () => {
    const t = render('Qwen-Qwen2.5-7B-Instruct');
    expect(t.family).toBe('chatml');
    expect(t.render(conversation)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n' +
        '<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.render(conversation.slice(1, 2), { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
    );
  });
  it('gemma 2, which has no system role: the system message joins the first user turn', () => {
    const t = render('google-gemma-2-2b-it');
    expect(t.supportsSystemRole).toBe(false);
    expect(t.render(conversation)).toBe(
      '<start_of_turn>user\nBe brief.\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n' +
        '<start_of_turn>user\nName a color.<end_of_turn>\n<start_of_turn>model\n',
    );
  });
  it('phi 3.5', () => {
    const t = render('microsoft-Phi-3.5-mini-instruct');
    expect(t.render(conversation)).toBe(
      '<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nName a color.<|end|>\n<|assistant|>\n',
    );
  });
  it('mistral nemo (system prompt goes with the last user turn)', () => {
    const t = render('mistralai-Mistral-Nemo-Instruct-2407');
    expect(t.family).toBe('mistral');
    expect(t.render(conversation)).toBe('[INST]Hi[/INST]Hello!</s>[INST]Be brief.\n\nName a color.[/INST]');
  });
});

describe('templates from GGUF metadata', () => {
  it('phi-3: one BOS, special tokens parsed, system folded into the user turn', () => {
    const meta = vocabMetadata('phi-3');
    const tok = Tokenizer.fromMetadata(meta);
    const t = chatTemplateFor(meta, tok);
    const text = t.render([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(text).toBe('<|user|>\nBe brief.\nHi<|end|>\n<|assistant|>\n');
    const ids = tok.tokenize(text, { parseSpecial: true });
    expect(ids[0]).toBe(tok.special.bos);
    expect(ids[1]).toBe(tok.tokenId('<|user|>'));
    expect(ids.filter((id) => id === tok.special.bos)).toHaveLength(1);
    expect(ids[ids.length - 1]).toBe(tok.tokenId('<|assistant|>'));
  });

  it('qwen2: its chatml template; ChatML for a model without one', () => {
    const meta = vocabMetadata('qwen2');
    const tok = Tokenizer.fromMetadata(meta);
    const ids = tok.tokenize(chatTemplateFor(meta, tok).render([{ role: 'user', content: 'Hi' }]), { parseSpecial: true });
    expect(tok.detokenize(ids, { special: true })).toBe(
      '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(ids[0]).toBe(tok.tokenId('<|im_start|>'));
    const spm = vocabMetadata('llama-spm');
    expect(chatTemplateFor(spm, Tokenizer.fromMetadata(spm)).source).toBe(CHATML_TEMPLATE);
  });

  it('reports templates it cannot parse or that reject a conversation', () => {
    expect(() => new ChatTemplate('{% for %}')).toThrow(TokenizerError);
    const strict = new ChatTemplate("{% if messages[0]['role'] == 'assistant' %}{{ raise_exception('user first') }}{% endif %}ok");
    expect(() => strict.render([{ role: 'assistant', content: 'x' }])).toThrow(/rejected this conversation/);
  });
});
