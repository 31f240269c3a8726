/**
 * @module commands/version
 * `etcdctl version`: prints the client and API versions (ignores -w, like etcdctl).
 */

import type { CommandSpec } from '../cli/command.js';
import { API_VERSION, VERSION } from '../cli/version.js';

export const versionCommand: CommandSpec = {
  use: 'version',
  short: 'Prints the version of etcdctl',
  light: true,
  async run(ctx) {
    ctx.out.write(`etcdctl version: ${VERSION}\nAPI version: ${API_VERSION}\n`);
  },
};
