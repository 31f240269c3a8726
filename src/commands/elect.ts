/**
 * @module commands/elect
 * `etcdctl elect <election-name> [proposal]` (etcdctl/ctlv3/command/elect_command.go
 * in 3.4.23), on the election recipe of client/concurrency. Both modes first create a
 * session (a lease of 60 s kept alive) and catch SIGINT/SIGTERM (a signal before that
 * is held briefly, then ends the process with status 128 + signal number; see lock.ts
 * armSignals).
 *
 * - campaign (`elect name proposal`): puts `name/<lease hex>` = proposal and waits for
 *   every older candidate to go; once leader, prints the leader key and value through
 *   the get printer, holds until a signal, then resigns (deletes the key) and exits 0.
 *   A signal while campaigning: `Error: context canceled`, exit 1 (the candidacy is
 *   withdrawn). Losing the session while leader: `Error: elect: session expired`, exit 1.
 * - observe (`elect -l name`): prints the current leader and every change (a new value
 *   of the leader key, or a new leader) through the get printer until a signal (exit 0);
 *   if the observation breaks: `Error: elect: observer lost`, exit 1.
 *
 * Argument errors (exit 128) come after the client is set up, as in etcdctl (so an
 * unknown `-w` format is reported first).
 */

import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../cli/exit-codes.js';
import type { Printer } from '../cli/printer/printer.js';
import type { EtcdClient } from '../client/client.js';
import { Election, Session } from '../client/concurrency.js';
import { bytes } from '../client/range.js';
import { aborted, armSignals, catchSignals } from './lock.js';

/** Election.Observe printing every leader response; see the module comment. */
async function observe(client: EtcdClient, display: Printer, flush: () => void, name: string): Promise<void> {
  const session = await Session.create(client);
  const e = new Election(session, name);
  const sig = catchSignals();
  await e.observe((r) => {
    display.get(r);
    flush();
  }, sig.signal);
  if (!sig.signal.aborted) throw new CliError(ExitError, 'elect: observer lost');
}

/** Election.Campaign, print, hold, resign; see the module comment. */
async function campaign(client: EtcdClient, display: Printer, flush: () => void, name: string, proposal: string): Promise<void> {
  const session = await Session.create(client);
  const e = new Election(session, name);
  const sig = catchSignals();
  await e.campaign(proposal, sig.signal);
  const resp = await client.range({ key: bytes(e.key) }, { timeoutMs: 0, signal: sig.signal });
  display.get(resp);
  flush();
  const which = await Promise.race([aborted(sig.signal).then(() => 'signal' as const), session.done.then(() => 'expired' as const)]);
  if (which === 'expired') throw new CliError(ExitError, 'elect: session expired');
  await e.resign();
  session.orphan();
}

/** `elect <election-name> [proposal]` with `-l/--listen`. */
export const electCommand: CommandSpec = {
  use: 'elect <election-name> [proposal]',
  short: 'Observes and participates in leader election',
  flags: [{ name: 'listen', short: 'l', type: 'bool', default: false, usage: 'observation mode' }],
  onFound: armSignals,
  async run(ctx) {
    const args = ctx.args;
    if (args.length !== 1 && args.length !== 2) {
      throw new CliError(ExitBadArgs, 'elect takes one election name argument and an optional proposal argument');
    }
    const client = await ctx.client();
    const display = ctx.display();
    const listen = ctx.flags.bool('listen');
    const flush = () => ctx.out.flush();
    if (args.length === 1) {
      if (!listen) throw new CliError(ExitBadArgs, 'no proposal argument but -l not set');
      await observe(client, display, flush, args[0]!);
    } else {
      if (listen) throw new CliError(ExitBadArgs, 'proposal given but -l is set');
      await campaign(client, display, flush, args[0]!, args[1]!);
    }
  },
};
