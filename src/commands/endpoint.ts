/**
 * @module commands/endpoint
 * `etcdctl endpoint <subcommand>`: health, status and hashkv of each endpoint
 * (etcdctl ep_command.go). `--cluster` is a persistent flag of the group.
 */

import type { CommandSpec } from '../cli/command.js';
import { CLUSTER_FLAG } from './endpoint/from-cluster.js';
import { endpointHashKVCommand } from './endpoint/hashkv.js';
import { endpointHealthCommand } from './endpoint/health.js';
import { endpointStatusCommand } from './endpoint/status.js';

export const endpointCommand: CommandSpec = {
  use: 'endpoint <subcommand>',
  short: 'Endpoint related commands',
  persistentFlags: [{ ...CLUSTER_FLAG }],
  subcommands: [endpointHealthCommand, endpointStatusCommand, endpointHashKVCommand],
};
