/**
 * @module commands/help
 * `etcdctl help [command]`: cobra's built-in help command. Its behaviour lives in
 * cli/main (it needs the command tree); this file only declares it.
 */

import type { CommandSpec } from '../cli/command.js';

export const helpCommand: CommandSpec = {
  use: 'help [command]',
  short: 'Help about any command',
  long: 'Help provides help for any command in the application.\nSimply type etcdctl help [path to command] for full details.',
  light: true,
  async run() {
    // handled by cli/main before commands run
  },
};
