/**
 * @module commands/user/password
 * How `user add` and `user passwd` read a new password (etcdctl user_command.go):
 * with `--interactive=false`, the first word of stdin as Go's `fmt.Scanf("%s")` reads
 * it; otherwise two prompts on stdout read like github.com/bgentry/speakeasy (terminal
 * echo off, one line each, surrounding white space trimmed) that must agree.
 * stdin is read synchronously one byte at a time, as Go does, so nothing past the
 * password is consumed.
 */

import { readSync } from 'node:fs';
import type * as childProcess from 'node:child_process';
import type * as ttyNs from 'node:tty';
import type { CommandContext } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

/** One byte of stdin, or -1 at end of input (errors count as end of input). */
function readByte(): number {
  const b = Buffer.alloc(1);
  for (;;) {
    try {
      return readSync(0, b, 0, 1, null) === 1 ? b[0]! : -1;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      return -1;
    }
  }
}

/** ASCII white space as Go's fmt scanning treats it (non-ASCII spaces are not handled). */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Go's `fmt.Scanf("%s", &s)` on stdin: skips blanks (not newlines), then reads up to
 * the next white space. A newline before the word, or end of input, gives "".
 */
export function scanWord(): string {
  let c = readByte();
  while (c !== -1 && isSpace(c) && c !== 0x0a && c !== 0x0d) c = readByte();
  if (c === -1 || c === 0x0a || c === 0x0d) return '';
  const word: number[] = [];
  while (c !== -1 && !isSpace(c)) {
    word.push(c);
    c = readByte();
  }
  return Buffer.from(word).toString('utf8');
}

/** speakeasy.Ask: the prompt on stdout, echo off on a terminal, one line, trimmed; then a newline on stdout. */
function ask(ctx: CommandContext, prompt: string): string {
  ctx.out.write(prompt);
  ctx.out.flush();
  // node:tty and node:child_process are loaded only here (each costs every etcdctl start ~4 ms)
  const { isatty } = process.getBuiltinModule('node:tty') as typeof ttyNs;
  const { spawnSync } = process.getBuiltinModule('node:child_process') as typeof childProcess;
  const tty = isatty(0);
  if (tty) spawnSync('stty', ['-echo'], { stdio: 'inherit' });
  const line: number[] = [];
  try {
    for (let c = readByte(); c !== -1 && c !== 0x0a; c = readByte()) line.push(c);
  } finally {
    if (tty) spawnSync('stty', ['echo'], { stdio: 'inherit' });
  }
  ctx.out.write('\n');
  return Buffer.from(line).toString('utf8').replace(/\r$/, '').trim();
}

/**
 * etcdctl's readPasswordInteractive: asks twice.
 * @throws CliError(ExitBadArgs) `empty password` / `given passwords are different`
 */
export function readPasswordInteractive(ctx: CommandContext, name: string): string {
  const p1 = ask(ctx, `Password of ${name}: `);
  if (p1.length === 0) throw new CliError(ExitBadArgs, 'empty password');
  const p2 = ask(ctx, `Type password of ${name} again for confirmation: `);
  if (p1 !== p2) throw new CliError(ExitBadArgs, 'given passwords are different');
  return p1;
}
