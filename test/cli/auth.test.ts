// Authentication commands (auth, user, role) and authenticated connections, compared
// with the real etcdctl 3.4.23: help, argument errors, every subcommand in every output
// format, server errors, password input (prompts and --interactive=false), and the
// auth flows (root-role auto grant, wrong password, unauthenticated request, permission
// denied, prefix read permission). Mutating steps run as a scenario on twin servers.
//
// `auth status` exists only from etcdctl 3.5 on: it is checked against a small fake
// Auth service answering AuthStatus as a 3.5 server does, with the output documented
// for 3.5 in /work/shared/reference/etcdctl.md, and against the 3.4 server (Unimplemented).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTwinEtcds, stopAll, type RealEtcd } from '../harness/etcd.js';
import { compareCli, errorLine, OURS, REAL, runCli, runScenario, type ScenarioStep } from '../harness/run.js';
import { CLI_ONLY, skipInServe } from '../harness/target.js';

const UNREACHABLE = '--endpoints=127.0.0.1:1';

/** Subcommands whose --help must equal real etcdctl's. */
const HELP: string[][] = [
  ['auth', 'enable'], ['auth', 'disable'],
  ['user'], ['user', 'add'], ['user', 'delete'], ['user', 'get'], ['user', 'list'], ['user', 'passwd'],
  ['user', 'grant-role'], ['user', 'revoke-role'],
  ['role'], ['role', 'add'], ['role', 'delete'], ['role', 'get'], ['role', 'list'],
  ['role', 'grant-permission'], ['role', 'revoke-permission'],
];

/** Argument errors: all fail before connecting (exit 128). */
const ARG_ERRORS: string[][] = [
  ['auth', 'enable', 'x'], ['auth', 'disable', 'x'],
  ['user', 'add'], ['user', 'add', 'a', 'b'], ['user', 'add', ':pw'],
  ['user', 'delete'], ['user', 'get'], ['user', 'get', 'a', 'b'], ['user', 'list', 'x'],
  ['user', 'passwd'], ['user', 'grant-role', 'u'], ['user', 'revoke-role', 'u', 'r', 'x'],
  ['role', 'add'], ['role', 'delete', 'a', 'b'], ['role', 'get'], ['role', 'list', 'x'],
  ['role', 'grant-permission', 'r', 'read'], ['role', 'grant-permission', 'r', 'bogus', 'k'],
  ['role', 'grant-permission', 'r', 'read', 'k', '--prefix', '--from-key'],
  ['role', 'grant-permission', 'r', 'read', '', '--prefix', '--from-key'],
  ['role', 'grant-permission', 'r', 'read', 'k', 'e', '--prefix'],
  ['role', 'grant-permission', 'r', 'read', 'k', 'e', '--from-key'],
  ['role', 'revoke-permission', 'r'],
  ['role', 'revoke-permission', 'r', 'k', 'e', '--prefix'],
  ['role', 'revoke-permission', 'r', 'k', 'e', '--from-key'],
  ['role', 'revoke-permission', 'r', 'k', '--prefix', '--from-key'],
];

const ROOT = ['--user', 'root:rootpw'];
const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];
const each = (args: string[]): ScenarioStep[] => FORMATS.map((w) => ({ args: [...args, '-w', w] }));

/**
 * Three independent sequences, each run by real etcdctl on server A and by ours on
 * server B of its own twin pair; the three pairs run concurrently.
 */
const ROLES: ScenarioStep[] = [
  ...['r1', 'r2', 'r3', 'r4', 'r5'].flatMap((r, i) => [{ args: ['role', 'add', r, '-w', FORMATS[i]!] }]),
  { args: ['role', 'add', 'r1'] }, // exists
  { args: ['role', 'grant-permission', 'r1', 'readwrite', '/a', '--prefix'] },
  { args: ['role', 'grant-permission', 'r1', 'READ', 'k1', 'k5', '-w', 'json'] },
  { args: ['role', 'grant-permission', 'r1', 'Write', 'z', '--from-key', '-w', 'fields'] },
  { args: ['role', 'grant-permission', 'r1', 'read', 'foo', '-w', 'protobuf'] },
  { args: ['role', 'grant-permission', 'r1', 'read', 'bar', '-w', 'table'] },
  { args: ['role', 'grant-permission', 'r2', 'read', '', '--prefix'] },
  { args: ['role', 'grant-permission', 'r2', 'write', '', '--from-key'] },
  { args: ['role', 'grant-permission', 'r2', 'write', '', 'ignored'] },
  { args: ['role', 'grant-permission', 'r2', 'read', '\xff', '--prefix'] },
  { args: ['role', 'grant-permission', 'nosuch', 'read', 'k'] },
  ...each(['role', 'get', 'r1']),
  ...each(['role', 'get', 'r2']),
  { args: ['role', 'get', 'r3'] },
  { args: ['role', 'get', 'nosuch'] },
  ...each(['role', 'list']),
  { args: ['role', 'revoke-permission', 'r1', '/a', '--prefix'] },
  { args: ['role', 'revoke-permission', 'r1', 'z', '--from-key', '-w', 'json'] },
  { args: ['role', 'revoke-permission', 'r1', 'k1', 'k5', '-w', 'fields'] },
  { args: ['role', 'revoke-permission', 'r1', 'foo', '-w', 'protobuf'] },
  { args: ['role', 'revoke-permission', 'r1', 'bar', '-w', 'table'] },
  { args: ['role', 'revoke-permission', 'r1', 'bar'] }, // not granted
  { args: ['role', 'revoke-permission', 'r2', '', '--prefix'] },
  { args: ['role', 'revoke-permission', 'r2', ''] }, // not granted
  { args: ['role', 'revoke-permission', 'nosuch', 'k'] },
  { args: ['role', 'get', 'r1'] },
  { args: ['role', 'get', 'r2'] },
  ...['r2', 'r3', 'r4', 'r5'].map((r, i) => ({ args: ['role', 'delete', r, '-w', FORMATS[i + 1]!] })),
  { args: ['role', 'delete', 'r2'] }, // gone
];

const USERS: ScenarioStep[] = [
  { args: ['role', 'add', 'r1'] },
  { args: ['role', 'add', 'r2'] },
  { args: ['role', 'grant-permission', 'r1', 'readwrite', '/a', '--prefix'] },
  { args: ['role', 'grant-permission', 'r1', 'read', 'k1', 'k5'] },
  { args: ['role', 'grant-permission', 'r2', 'write', 'z', '--from-key'] },
  { args: ['user', 'add', 'u1:p1'] },
  { args: ['user', 'add', 'u2', '--new-user-password', 'p:2', '-w', 'json'] },
  { args: ['user', 'add', 'u3:x', '-w', 'fields'] },
  { args: ['user', 'add', 'u4:x', '-w', 'protobuf'] },
  { args: ['user', 'add', 'u5:x', '-w', 'table'] },
  { args: ['user', 'add', 'u1:again'] }, // exists
  { args: ['user', 'add', 'np', '--no-password'] },
  { args: ['user', 'add', 'bob'], stdin: 'bobpw\nbobpw\n' }, // prompts on stdout
  { args: ['user', 'add', 'eve'], stdin: 'a\nb\n' }, // different
  { args: ['user', 'add', 'eve'], stdin: '\n' }, // empty
  { args: ['user', 'add', 'eve'] }, // EOF: empty
  { args: ['user', 'add', 'carol', '--interactive=false'], stdin: '  carolpw rest\n' },
  { args: ['user', 'add', 'dave', '--interactive=false'], stdin: '\ndavepw\n' }, // Scanf: newline first → empty password
  { args: ['user', 'grant-role', 'u1', 'r1'] },
  { args: ['user', 'grant-role', 'u1', 'r2', '-w', 'json'] },
  { args: ['user', 'grant-role', 'u2', 'r1', '-w', 'fields'] },
  { args: ['user', 'grant-role', 'u3', 'r1', '-w', 'protobuf'] },
  { args: ['user', 'grant-role', 'u4', 'r1', '-w', 'table'] },
  { args: ['user', 'grant-role', 'u1', 'nosuch'] },
  { args: ['user', 'grant-role', 'nosuch', 'r1'] },
  ...each(['user', 'get', 'u1']),
  ...each(['user', 'get', 'u1', '--detail']),
  { args: ['user', 'get', 'u5'] },
  { args: ['user', 'get', 'u5', '--detail', '-w', 'table'] },
  { args: ['user', 'get', 'nosuch'] },
  ...each(['user', 'list']),
  { args: ['user', 'revoke-role', 'u1', 'r2'] },
  { args: ['user', 'revoke-role', 'u1', 'r1', '-w', 'json'] },
  { args: ['user', 'revoke-role', 'u2', 'r1', '-w', 'fields'] },
  { args: ['user', 'revoke-role', 'u3', 'r1', '-w', 'protobuf'] },
  { args: ['user', 'revoke-role', 'u4', 'r1', '-w', 'table'] },
  { args: ['user', 'revoke-role', 'u1', 'r1'] }, // not granted
  { args: ['user', 'passwd', 'u1'], stdin: 'n1\nn1\n' },
  { args: ['user', 'passwd', 'u2', '--interactive=false', '-w', 'json'], stdin: 'n2' },
  { args: ['user', 'passwd', 'u3', '--interactive=false', '-w', 'fields'], stdin: 'n3' },
  { args: ['user', 'passwd', 'u4', '--interactive=false', '-w', 'protobuf'], stdin: 'n4' },
  { args: ['user', 'passwd', 'u5', '--interactive=false', '-w', 'table'], stdin: 'n5' },
  { args: ['user', 'passwd', 'nosuch', '--interactive=false'], stdin: 'x' },
  { args: ['user', 'passwd', 'u1'], stdin: 'a\nb\n' },
  ...['u2', 'u3', 'u4', 'u5'].map((u, i) => ({ args: ['user', 'delete', u, '-w', FORMATS[i + 1]!] })),
  { args: ['user', 'delete', 'u2'] }, // gone
];

const AUTH: ScenarioStep[] = [
  { args: ['user', 'add', 'bob'], stdin: 'bobpw\nbobpw\n' },
  { args: ['user', 'add', 'carol', '--interactive=false'], stdin: ' carolpw\n' },
  { args: ['user', 'add', 'u1:p1'] },
  { args: ['user', 'passwd', 'u1'], stdin: 'n1\nn1\n' },
  { args: ['user', 'add', 'np', '--no-password'] },
  { args: ['auth', 'enable'] }, // no root user
  { args: ['user', 'add', 'root:rootpw'] },
  { args: ['auth', 'enable'] }, // creates role root and grants it
  { args: ['role', 'list'] }, // user name is empty
  { args: ['--user', 'root:bad', 'get', 'k'] }, // exit 2
  { args: ['--user', 'nosuch:x', 'get', 'k'] },
  { args: [...ROOT, 'role', 'list'] },
  { args: ['--user', 'root', '--password', 'rootpw', 'user', 'list'] },
  { args: ['--user', 'root', 'user', 'list'], stdin: 'rootpw\n' }, // password prompt
  { args: [...ROOT, 'role', 'add', 'rp'] },
  { args: [...ROOT, 'role', 'grant-permission', 'rp', 'read', '/p/', '--prefix'] },
  { args: [...ROOT, 'user', 'grant-role', 'bob', 'rp'] },
  { args: [...ROOT, 'put', '/p/x', '1'] },
  { args: ['--user', 'bob:bobpw', 'get', '/p/', '--prefix'] },
  { args: ['--user', 'bob:bobpw', 'put', '/p/y', '2'] }, // permission denied
  { args: ['--user', 'bob:bobpw', 'get', '/q'] },
  { args: ['--user', 'bob:bobpw', 'user', 'list'] },
  { args: ['--user', 'bob:bobpw', 'auth', 'disable'] },
  { args: ['--user', 'carol:carolpw', 'get', '/p/x'] },
  { args: ['--user', 'u1:n1', 'get', '/p/x'] },
  { args: ['--user', 'np:', 'get', '/p/x'] }, // no-password user cannot authenticate
  { args: [...ROOT, 'user', 'revoke-role', 'root', 'root'] }, // invalid auth management
  { args: [...ROOT, 'role', 'get', 'root'] },
  { args: [...ROOT, 'user', 'get', 'root', '--detail'] },
  { args: [...ROOT, 'auth', 'enable'] }, // already enabled
  { args: [...ROOT, 'auth', 'disable'] },
  { args: ['auth', 'disable'] }, // already disabled
  { args: ['user', 'revoke-role', 'root', 'root'] },
  { args: ['auth', 'enable'] }, // role root exists but is not granted: the retry fails
  { args: ['user', 'grant-role', 'root', 'root'] },
  { args: ['auth', 'enable', '-w', 'json'] },
  { args: [...ROOT, 'auth', 'disable', '-w', 'table'] },
  { args: ['user', 'list'] },
  { args: ['role', 'list'] },
];

describe('auth, user and role commands against real etcdctl', () => {
  let servers: [RealEtcd, RealEtcd] | undefined;
  let pair2: [RealEtcd, RealEtcd] | undefined;
  let pair3: [RealEtcd, RealEtcd] | undefined;
  before(async () => {
    [servers, pair2, pair3] = await Promise.all([startTwinEtcds(), startTwinEtcds(), startTwinEtcds()]);
  });
  after(async () => {
    await stopAll(...(servers ?? []), ...(pair2 ?? []), ...(pair3 ?? []));
  });

  test('--help of every subcommand', { skip: skipInServe(CLI_ONLY) }, async () => {
    await Promise.all(HELP.map((p) => compareCli([...p, '--help'], { endpoints: false, stderr: 'full' })));
  });

  test('auth --help: as 3.4 plus the 3.5 status command', { skip: skipInServe(CLI_ONLY) }, async () => {
    const [real, ours] = await Promise.all([runCli(REAL, ['auth', '--help']), runCli(OURS, ['auth', '--help'])]);
    const text = ours.stdout.toString();
    assert.match(text, /^\tstatus\t+Returns authentication status$/m);
    const without = text.split('\n').filter((l) => !/^\tstatus\t/.test(l)).join('\n');
    assert.equal(without, real.stdout.toString());
    assert.equal(ours.code, real.code);
  });

  test('argument errors', { skip: skipInServe(CLI_ONLY) }, async () => {
    await Promise.all(ARG_ERRORS.map((a) => compareCli([UNREACHABLE, ...a], { endpoints: false })));
  });

  test('scenarios: roles; users and passwords; auth flows (all formats and errors)', async () => {
    await Promise.all([
      runScenario(ROLES, { servers: servers! }),
      runScenario(USERS, { servers: pair2! }),
      runScenario(AUTH, { servers: pair3! }),
    ]);
  });

  // in serve mode servers[1] is our server, which must answer as 3.4 does (no AuthStatus)
  test('auth status against a 3.4 server: Unimplemented', async () => {
    const r = await runCli(OURS, [`--endpoints=${servers![1].endpoint}`, 'auth', 'status']);
    assert.equal(errorLine(r.stderr), 'Error: rpc error: code = Unimplemented desc = unknown method AuthStatus for service etcdserverpb.Auth');
    assert.equal(r.code, 1);
  });

  test('auth status (3.5 format) against a fake AuthStatus service', { skip: skipInServe(CLI_ONLY) }, async () => {
    // AuthStatusResponse{header{cluster_id:1 member_id:2 revision:3 raft_term:4}, enabled:true, authRevision:5}
    const header = Buffer.from([0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4]);
    const resp = Buffer.concat([Buffer.from([0x0a, header.length]), header, Buffer.from([0x10, 1, 0x18, 5])]);
    const server = new grpc.Server();
    server.addService(
      {
        AuthStatus: {
          path: '/etcdserverpb.Auth/AuthStatus',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      { AuthStatus: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, resp) },
    );
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    try {
      const run = (w: string) => runCli(OURS, [`--endpoints=127.0.0.1:${port}`, 'auth', 'status', '-w', w]);
      const [simple, json, fields, pb, table, extra] = await Promise.all([
        run('simple'), run('json'), run('fields'), run('protobuf'), run('table'),
        runCli(OURS, [`--endpoints=127.0.0.1:${port}`, 'auth', 'status', 'x']),
      ]);
      assert.equal(simple.stdout.toString(), 'Authentication Status: true\nAuthRevision: 5\n');
      assert.equal(json.stdout.toString(), '{"header":{"cluster_id":1,"member_id":2,"revision":3,"raft_term":4},"enabled":true,"authRevision":5}\n');
      assert.equal(fields.stdout.toString(), '"ClusterID" : 1\n"MemberID" : 2\n"Revision" : 3\n"RaftTerm" : 4\n"Enabled" : true\n"AuthRevision" : 5\n');
      assert.deepEqual(pb.stdout, resp);
      assert.equal(table.code, 4);
      assert.equal(errorLine(table.stderr), 'Error: table not supported as output format');
      assert.equal(extra.code, 128);
      assert.equal(errorLine(extra.stderr), 'Error: auth status command does not accept any arguments');
    } finally {
      server.forceShutdown();
    }
  });
});
