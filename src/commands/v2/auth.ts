/**
 * @module commands/v2/auth
 * etcdctl v2's `user`, `role` and `auth` commands (etcdctl/ctlv2/command:
 * user_commands.go, role_commands.go, auth_commands.go) over /v2/auth.
 */

import type { V2Command, V2Context } from '../../cli/v2/app.js';
import type { AuthAPI, PermissionType, V2Role } from '../../client/v2/api.js';
import { canonicalURLPath } from '../../client/v2/api.js';
import { authAPI, fail, out, totalTimeout, askPassword } from './common.js';

async function run<T>(c: V2Context, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const t = totalTimeout(c);
  try {
    return await f(t.signal);
  } catch (e) {
    fail((e as Error).message);
  } finally {
    t.cancel();
  }
}

async function userAPIAndName(c: V2Context): Promise<[AuthAPI, string]> {
  if (c.args.length !== 1) fail('Please provide a username');
  return [await authAPI(c), c.args[0]!];
}

async function roleAPIAndName(c: V2Context): Promise<[AuthAPI, string]> {
  if (c.args.length !== 1) fail('Please provide a role name');
  const name = c.args[0]!;
  return [await authAPI(c), name];
}

const ROLES_FLAG = { name: 'roles', kind: 'stringSlice', usage: 'List of roles to grant or revoke' } as const;

async function userGrantRevoke(c: V2Context, grant: boolean): Promise<void> {
  const roles = c.flags.strings('roles');
  if (roles.length === 0) fail('No roles specified; please use `--roles`');
  const [api, user] = await userAPIAndName(c);
  await run(c, (signal) => api.modUser('PUT', user, { user, roles: null, [grant ? 'grant' : 'revoke']: roles }, { signal }));
  out(`User ${user} updated\n`);
}

/** `user` with add/get/list/remove/grant/revoke/passwd. */
export const userCommand: V2Command = {
  name: 'user',
  usage: 'user add, grant and revoke subcommands',
  subcommands: [
    {
      name: 'add', usage: 'add a new user for the etcd cluster', argsUsage: '<user>',
      async action(c) {
        const [api, arg] = await userAPIAndName(c);
        const i = arg.indexOf(':');
        const user = i === -1 ? arg : arg.slice(0, i);
        const pass = i === -1 ? askPassword('New password: ') : arg.slice(i + 1);
        await run(c, (signal) => api.addUser(user, pass, { signal }));
        out(`User ${user} created\n`);
      },
    },
    {
      name: 'get', usage: 'get details for a user', argsUsage: '<user>',
      async action(c) {
        const [api, name] = await userAPIAndName(c);
        const u = await run(c, (signal) => api.modUser('GET', name, undefined, { signal }));
        out(`User: ${u.user}\nRoles: ${u.roles.join(' ')}\n`);
      },
    },
    {
      name: 'list', usage: 'list all current users', argsUsage: '<user>',
      async action(c) {
        if (c.args.length !== 0) fail('No arguments accepted');
        const api = await authAPI(c);
        const users = await run(c, (signal) => api.listUsers({ signal }));
        out(users.map((u) => u + '\n').join(''));
      },
    },
    {
      name: 'remove', usage: 'remove a user for the etcd cluster', argsUsage: '<user>',
      async action(c) {
        const [api, user] = await userAPIAndName(c);
        await run(c, (signal) => api.removeUser(user, { signal }));
        out(`User ${user} removed\n`);
      },
    },
    { name: 'grant', usage: 'grant roles to an etcd user', argsUsage: '<user>', flags: [ROLES_FLAG], action: (c) => userGrantRevoke(c, true) },
    { name: 'revoke', usage: 'revoke roles for an etcd user', argsUsage: '<user>', flags: [ROLES_FLAG], action: (c) => userGrantRevoke(c, false) },
    {
      name: 'passwd', usage: 'change password for a user', argsUsage: '<user>',
      async action(c) {
        const [api, user] = await userAPIAndName(c);
        const pass = askPassword('New password: ');
        await run(c, (signal) => api.modUser('PUT', user, { user, password: pass, roles: null }, { signal }));
        out('Password updated\n');
      },
    },
  ],
};

function sameRole(a: V2Role, b: V2Role): boolean {
  const eq = (x: string[] | null, y: string[] | null) =>
    x === null || y === null ? x === y : x.length === y.length && x.every((v, i) => v === y[i]);
  return a.role === b.role && eq(a.permissions.kv.read, b.permissions.kv.read) && eq(a.permissions.kv.write, b.permissions.kv.write);
}

async function roleGrantRevoke(c: V2Context, grant: boolean): Promise<void> {
  const path = c.flags.string('path');
  if (path === '') fail('No path specified; please use `--path`');
  if (canonicalURLPath(path) !== path) fail(`Not canonical path; please use \`--path=${canonicalURLPath(path)}\``);
  const flags = [c.flags.bool('read'), c.flags.bool('write'), c.flags.bool('readwrite')];
  if (flags.filter((x) => x).length !== 1) fail('Please specify exactly one of --read, --write or --readwrite');
  const perm: PermissionType = flags[0] ? 'read' : flags[1] ? 'write' : 'readwrite';
  const [api, role] = await roleAPIAndName(c);
  const t = totalTimeout(c);
  try {
    let current: V2Role;
    try {
      current = await api.getRole(role, { signal: t.signal });
    } catch (e) {
      fail((e as Error).message);
    }
    let updated: V2Role;
    try {
      updated = await api.changeRole(role, grant, [path], perm, { signal: t.signal });
    } catch (e) {
      fail((e as Error).message);
    }
    if (sameRole(updated, current)) out(grant ? 'Role unchanged; already granted' : 'Role unchanged; already revoked');
    out(`Role ${role} updated\n`);
  } finally {
    t.cancel();
  }
}

function permFlags(verb: 'Grant' | 'Revoke'): V2Command['flags'] {
  return [
    { name: 'path', kind: 'string', usage: `Path ${verb === 'Grant' ? 'granted' : 'revoked'} for the role to access` },
    { name: 'read', kind: 'bool', usage: verb === 'Grant' ? 'Grant read-only access' : 'Revoke read access' },
    { name: 'write', kind: 'bool', usage: verb === 'Grant' ? 'Grant write-only access' : 'Revoke write access' },
    { name: 'readwrite, rw', kind: 'bool', usage: `${verb} read-write access` },
  ];
}

/** `role` with add/get/list/remove/grant/revoke. */
export const roleCommand: V2Command = {
  name: 'role',
  usage: 'role add, grant and revoke subcommands',
  subcommands: [
    {
      name: 'add', usage: 'add a new role for the etcd cluster', argsUsage: '<role> ',
      async action(c) {
        const [api, role] = await roleAPIAndName(c);
        const t = totalTimeout(c);
        try {
          let exists = false;
          try {
            await api.getRole(role, { signal: t.signal });
            exists = true;
          } catch {
            exists = false;
          }
          if (exists) fail(`Role ${role} already exists`);
          try {
            await api.addRole(role, { signal: t.signal });
          } catch (e) {
            fail((e as Error).message);
          }
        } finally {
          t.cancel();
        }
        out(`Role ${role} created\n`);
      },
    },
    {
      name: 'get', usage: 'get details for a role', argsUsage: '<role>',
      async action(c) {
        const [api, name] = await roleAPIAndName(c);
        const r = await run(c, (signal) => api.getRole(name, { signal }));
        let s = `Role: ${r.role}\nKV Read:\n`;
        for (const v of r.permissions.kv.read ?? []) s += `\t${v}\n`;
        s += 'KV Write:\n';
        for (const v of r.permissions.kv.write ?? []) s += `\t${v}\n`;
        out(s);
      },
    },
    {
      name: 'list', usage: 'list all roles', argsUsage: ' ',
      async action(c) {
        if (c.args.length !== 0) fail('No arguments accepted');
        const api = await authAPI(c);
        const roles = await run(c, (signal) => api.listRoles({ signal }));
        out(roles.map((r) => r + '\n').join(''));
      },
    },
    {
      name: 'remove', usage: 'remove a role from the etcd cluster', argsUsage: '<role>',
      async action(c) {
        const [api, role] = await roleAPIAndName(c);
        await run(c, (signal) => api.removeRole(role, { signal }));
        out(`Role ${role} removed\n`);
      },
    },
    { name: 'grant', usage: 'grant path matches to an etcd role', argsUsage: '<role>', flags: permFlags('Grant'), action: (c) => roleGrantRevoke(c, true) },
    { name: 'revoke', usage: 'revoke path matches for an etcd role', argsUsage: '<role>', flags: permFlags('Revoke'), action: (c) => roleGrantRevoke(c, false) },
  ],
};

async function authEnableDisable(c: V2Context, enable: boolean): Promise<void> {
  if (c.args.length !== 0) fail('No arguments accepted');
  const api = await authAPI(c);
  await run(c, (signal) => api.enable(enable, { signal }));
  out(enable ? 'Authentication Enabled\n' : 'Authentication Disabled\n');
}

/** `auth enable|disable`. */
export const authCommand: V2Command = {
  name: 'auth',
  usage: 'overall auth controls',
  subcommands: [
    { name: 'enable', usage: 'enable auth access controls', argsUsage: ' ', action: (c) => authEnableDisable(c, true) },
    { name: 'disable', usage: 'disable auth access controls', argsUsage: ' ', action: (c) => authEnableDisable(c, false) },
  ],
};

