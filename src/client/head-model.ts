// A model a head tab plans, named by URL: its id (what requests and plans name it by) is the file name
// without .gguf, and members read its layers from that URL (a head tab's model may live anywhere).
import { MeshError } from '../protocol/errors.ts';
import { publishedModelUrl } from './models-catalog.ts';

export type CreateLinkErrorCode = 'create_bad_model_url' | 'create_not_gguf' | 'create_bad_visibility' | 'create_bad_relay' | 'create_bad_ice';

export class CreateLinkError extends MeshError {
  constructor(code: CreateLinkErrorCode, message: string) {
    super(code, message);
    this.name = 'CreateLinkError';
  }
}

/** A model a head plans: its absolute URL, and the id requests name it by (the file name without .gguf). */
export interface HeadModel {
  readonly url: string;
  readonly id: string;
}

/** Checks a model URL a head would plan (absolute http(s), a .gguf file). Throws CreateLinkError. */
export function headModel(text: string): HeadModel {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new CreateLinkError(
      'create_bad_model_url',
      `“${text}” is not an absolute URL: write the model's whole address, such as https://host/models/name.gguf`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CreateLinkError('create_bad_model_url', `the model URL must be http(s), not ${url.protocol}: give the address of a .gguf file`);
  const file = decodeURIComponent(url.pathname.split('/').pop() ?? '');
  if (!/\.gguf$/i.test(file) || file.length <= '.gguf'.length)
    throw new CreateLinkError('create_not_gguf', `the model URL must name a .gguf file, not “${file || url.pathname}”`);
  return { url: url.href, id: file.replace(/\.gguf$/i, '') };
}

/**
 * Where a member reads the layers of `model`: the invite's model URL when that URL names it (a head
 * tab's model may live anywhere), else the app's /models/ (the companion publishes its model there).
 */
export function modelUrlFor(model: string, inviteModel: string | undefined, origin: string): string {
  if (inviteModel) {
    try {
      if (headModel(inviteModel).id === model) return new URL(inviteModel).href;
    } catch {
      // Not a URL (an older invite names the model by id): the published copy.
    }
  }
  return publishedModelUrl(model, origin);
}
