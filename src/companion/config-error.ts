// The error every bad flag or variable of the companion raises: its message names the option and says what to give.
import { MeshError } from '../protocol/errors.ts';

export class ConfigError extends MeshError {
  constructor(message: string) {
    super('config_invalid', message);
    this.name = 'ConfigError';
  }
}
