// A peer opens each planned model once: its stage, its plan checks and its speed measurement share
// the open file; a failed open is forgotten, so the next asks again.
import type { ModelFile } from '../../engine/model.ts';

export function sharedOpener(open: ((model: string) => Promise<ModelFile>) | undefined): (model: string) => Promise<ModelFile> {
  const files = new Map<string, Promise<ModelFile>>();
  return (model) => {
    if (!open) return Promise.reject(new Error('this peer serves no models'));
    let file = files.get(model);
    if (!file) {
      files.set(model, (file = open(model)));
      file.catch(() => files.delete(model));
    }
    return file;
  };
}
