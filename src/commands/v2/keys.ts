/**
 * @module commands/v2/keys
 * etcdctl v2's key commands (etcdctl/ctlv2/command: get, ls, set, mk, mkdir, setdir,
 * update, updatedir, rm, rmdir, watch, exec-watch) over the v2 keys API.
 */

import { spawn } from 'node:child_process';
import type { V2Command, V2Context } from '../../cli/v2/app.js';
import { V2Exit } from '../../cli/v2/app.js';
import type { V2KeysResponse, V2Node, PrevExist } from '../../client/v2/api.js';
import {
  argOrStdin, environ, err, ExitBadArgs, ExitServerError, fail, handleError, keysAPI, out, printResponseKey, totalTimeout,
} from './common.js';

const TTL_FLAG = { name: 'ttl', kind: 'int', value: 0, usage: 'key time-to-live in seconds' } as const;

function output(c: V2Context): string {
  return c.globals.string('output');
}

function keyArg(c: V2Context): string {
  if (c.args.length === 0) handleError(ExitBadArgs, new Error('key required'));
  return c.args[0]!;
}

/** Runs one keys API call under the total timeout; errors end with ExitServerError. */
async function call(c: V2Context, f: (signal: AbortSignal) => Promise<V2KeysResponse>): Promise<V2KeysResponse> {
  const t = totalTimeout(c);
  try {
    return await f(t.signal);
  } catch (e) {
    if (e instanceof V2Exit) throw e;
    handleError(ExitServerError, e);
  } finally {
    t.cancel();
  }
}

/** `get <key>`: the value; a directory is an error (exit 1). */
export const getCommand: V2Command = {
  name: 'get',
  usage: 'retrieve the value of a key',
  argsUsage: '<key>',
  flags: [
    { name: 'sort', kind: 'bool', usage: 'returns result in sorted order' },
    { name: 'quorum, q', kind: 'bool', usage: 'require quorum for get request' },
  ],
  async action(c) {
    const ki = await keysAPI(c);
    const key = keyArg(c);
    const resp = await call(c, (signal) => ki.get(key, { sort: c.flags.bool('sort'), quorum: c.flags.bool('quorum') }, { signal }));
    if (resp.node?.dir) fail(`${resp.node.key}: is a directory`);
    printResponseKey(resp, output(c));
  },
};

function printTree(c: V2Context, n: V2Node): string {
  let s = n.dir && c.flags.bool('p') ? `${n.key}/\n` : `${n.key}\n`;
  for (const x of n.nodes ?? []) s += printTree(c, x);
  return s;
}

/** `ls [key]`: the keys of a directory (recursively with -r). */
export const lsCommand: V2Command = {
  name: 'ls',
  usage: 'retrieve a directory',
  argsUsage: '[key]',
  flags: [
    { name: 'sort', kind: 'bool', usage: 'returns result in sorted order' },
    { name: 'recursive, r', kind: 'bool', usage: 'returns all key names recursively for the given path' },
    { name: 'p', kind: 'bool', usage: 'append slash (/) to directories' },
    { name: 'quorum, q', kind: 'bool', usage: 'require quorum for get request' },
  ],
  async action(c) {
    const ki = await keysAPI(c);
    const key = c.args.length ? c.args[0]! : '/';
    const resp = await call(c, (signal) => ki.get(key, { sort: c.flags.bool('sort'), recursive: c.flags.bool('recursive'), quorum: c.flags.bool('quorum') }, { signal }));
    if (output(c) === 'simple') {
      const node = resp.node!;
      let s = node.dir ? '' : `${node.key}\n`;
      for (const n of node.nodes ?? []) s += printTree(c, n);
      out(s);
    } else printResponseKey(resp, output(c));
  },
};

function valueArg(c: V2Context): string {
  const v = argOrStdin(c.args, 1);
  if (v === undefined) handleError(ExitBadArgs, new Error('value required'));
  return v;
}

/** `set <key> <value>`, with compare-and-swap flags. */
export const setCommand: V2Command = {
  name: 'set',
  usage: 'set the value of a key',
  argsUsage: '<key> <value>',
  description: "Set sets the value of a key.\n\n   When <value> begins with '-', <value> is interpreted as a flag.\n   Insert '--' for workaround:\n\n   $ set -- <key> <value>",
  flags: [
    TTL_FLAG,
    { name: 'swap-with-value', kind: 'string', usage: 'previous value' },
    { name: 'swap-with-index', kind: 'int', value: 0, usage: 'previous index' },
  ],
  async action(c) {
    const ki = await keysAPI(c);
    const key = keyArg(c);
    const value = valueArg(c);
    const resp = await call(c, (signal) => ki.set(key, value, {
      ttl: c.flags.int('ttl'), prevValue: c.flags.string('swap-with-value'), prevIndex: c.flags.int('swap-with-index'),
    }, { signal }));
    printResponseKey(resp, output(c));
  },
};

/** `mk <key> <value>`: create only (or an in-order key under a directory). */
export const mkCommand: V2Command = {
  name: 'mk',
  usage: 'make a new key with a given value',
  argsUsage: '<key> <value>',
  flags: [{ name: 'in-order', kind: 'bool', usage: 'create in-order key under directory <key>' }, TTL_FLAG],
  async action(c) {
    const ki = await keysAPI(c);
    const key = keyArg(c);
    const value = valueArg(c);
    const ttl = c.flags.int('ttl');
    const resp = await call(c, (signal) => c.flags.bool('in-order')
      ? ki.createInOrder(key, value, ttl, { signal })
      : ki.set(key, value, { ttl, prevExist: 'false' }, { signal }));
    printResponseKey(resp, output(c));
  },
};

async function dirCommand(c: V2Context, prevExist: PrevExist): Promise<void> {
  const ki = await keysAPI(c);
  const key = keyArg(c);
  const resp = await call(c, (signal) => ki.set(key, '', { ttl: c.flags.int('ttl'), dir: true, prevExist }, { signal }));
  if (output(c) !== 'simple') printResponseKey(resp, output(c));
}

/** `mkdir <key>`. */
export const mkdirCommand: V2Command = {
  name: 'mkdir',
  usage: 'make a new directory',
  argsUsage: '<key>',
  flags: [TTL_FLAG],
  action: (c) => dirCommand(c, 'false'),
};

/** `setdir <key>`. */
export const setdirCommand: V2Command = {
  name: 'setdir',
  usage: 'create a new directory or update an existing directory TTL',
  argsUsage: '<key>',
  flags: [TTL_FLAG],
  action: (c) => dirCommand(c, ''),
};

/** `updatedir <key>`. */
export const updatedirCommand: V2Command = {
  name: 'updatedir',
  usage: 'update an existing directory',
  argsUsage: '<key> <value>',
  flags: [TTL_FLAG],
  action: (c) => dirCommand(c, 'true'),
};

/** `update <key> <value>`: the key must exist. */
export const updateCommand: V2Command = {
  name: 'update',
  usage: 'update an existing key with a given value',
  argsUsage: '<key> <value>',
  flags: [TTL_FLAG],
  async action(c) {
    const ki = await keysAPI(c);
    const key = keyArg(c);
    const value = valueArg(c);
    const resp = await call(c, (signal) => ki.set(key, value, { ttl: c.flags.int('ttl'), prevExist: 'true' }, { signal }));
    printResponseKey(resp, output(c));
  },
};

async function remove(c: V2Context, o: { dir?: boolean; recursive?: boolean; prevValue?: string; prevIndex?: number }): Promise<void> {
  const ki = await keysAPI(c);
  const key = keyArg(c);
  const resp = await call(c, (signal) => ki.delete(key, o, { signal }));
  if (!resp.node?.dir || output(c) !== 'simple') printResponseKey(resp, output(c));
}

/** `rm <key>`. */
export const rmCommand: V2Command = {
  name: 'rm',
  usage: 'remove a key or a directory',
  argsUsage: '<key>',
  flags: [
    { name: 'dir', kind: 'bool', usage: 'removes the key if it is an empty directory or a key-value pair' },
    { name: 'recursive, r', kind: 'bool', usage: 'removes the key and all child keys(if it is a directory)' },
    { name: 'with-value', kind: 'string', usage: 'previous value' },
    { name: 'with-index', kind: 'int', value: 0, usage: 'previous index' },
  ],
  action: (c) => remove(c, { dir: c.flags.bool('dir'), recursive: c.flags.bool('recursive'), prevValue: c.flags.string('with-value'), prevIndex: c.flags.int('with-index') }),
};

/** `rmdir <key>`. */
export const rmdirCommand: V2Command = {
  name: 'rmdir',
  usage: 'removes the key if it is an empty directory or a key-value pair',
  argsUsage: '<key>',
  action: (c) => remove(c, { dir: true }),
};

/** Ends the process with 0 on SIGINT, as the watch commands do. */
function exitOnInterrupt(): void {
  process.on('SIGINT', () => process.exit(0));
}

/** `watch <key>`: the next change (every change with --forever). */
export const watchCommand: V2Command = {
  name: 'watch',
  usage: 'watch a key for changes',
  argsUsage: '<key>',
  flags: [
    { name: 'forever, f', kind: 'bool', usage: 'forever watch a key until CTRL+C' },
    { name: 'after-index', kind: 'int', value: 0, usage: 'watch after the given index' },
    { name: 'recursive, r', kind: 'bool', usage: 'returns all values for key and child keys' },
  ],
  async action(c) {
    const ki = await keysAPI(c);
    const key = keyArg(c);
    const recursive = c.flags.bool('recursive');
    const w = ki.watcher(key, { afterIndex: c.flags.int('after-index'), recursive });
    exitOnInterrupt();
    for (;;) {
      let resp: V2KeysResponse;
      try {
        resp = await w.next();
      } catch (e) {
        handleError(ExitServerError, e);
      }
      if (resp.node?.dir) continue;
      if (recursive) out(`[${resp.action}] ${resp.node?.key ?? ''}\n`);
      printResponseKey(resp, output(c));
      if (!c.flags.bool('forever')) return;
    }
  },
};

/** `exec-watch <key> -- <command> [args...]`: runs the command on every change. */
export const execWatchCommand: V2Command = {
  name: 'exec-watch',
  usage: 'watch a key for changes and exec an executable',
  argsUsage: '<key> <command> [args...]',
  flags: [
    { name: 'after-index', kind: 'int', value: 0, usage: 'watch after the given index' },
    { name: 'recursive, r', kind: 'bool', usage: 'watch all values for key and child keys' },
  ],
  async action(c) {
    const ki = await keysAPI(c);
    const args = c.args;
    if (args.length < 2) handleError(ExitBadArgs, new Error('key and command to exec required'));
    let key: string;
    let cmdArgs: string[];
    if (args.some((a, i) => a === '--' && i !== 0)) {
      key = args[0]!;
      cmdArgs = args.slice(2);
    } else {
      // without `--` etcdctl takes the last argument as the key
      key = args[args.length - 1]!;
      cmdArgs = args.slice(0, -1);
    }
    exitOnInterrupt();
    const w = ki.watcher(key, { afterIndex: c.flags.int('after-index'), recursive: c.flags.bool('recursive') });
    for (;;) {
      let resp: V2KeysResponse;
      try {
        resp = await w.next();
      } catch (e) {
        handleError(ExitServerError, e);
      }
      const node = resp.node!;
      if (node.dir) {
        err(`Ignored dir ${node.key} change\n`);
        continue;
      }
      if (cmdArgs.length === 0) {
        // Go indexes cmdArgs[0] and panics; say so instead
        fail('exec-watch: no command to run');
      }
      const env = {
        ...environ(),
        ETCD_WATCH_ACTION: resp.action,
        ETCD_WATCH_MODIFIED_INDEX: String(node.modifiedIndex),
        ETCD_WATCH_KEY: node.key,
        ETCD_WATCH_VALUE: node.value,
      };
      const child = spawn(cmdArgs[0]!, cmdArgs.slice(1), { env, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        const file = cmdArgs[0]!;
        // Go's exec.Command looks a name without a slash up in $PATH first
        if (code === 'ENOENT') err(file.includes('/') ? `fork/exec ${file}: no such file or directory` : `exec: "${file}": executable file not found in $PATH`);
        else if (code === 'EACCES') err(file.includes('/') ? `fork/exec ${file}: permission denied` : `exec: "${file}": permission denied`);
        else err(e.message);
        process.exit(1);
      });
    }
  },
};
