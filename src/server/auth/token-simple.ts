/**
 * @module server/auth/token-simple
 * etcd's "simple" token provider (auth/simple_token.go): opaque tokens kept in
 * this member's memory.
 *
 * A token is `<prefix>.<index>`: 16 random ASCII letters (from a CSPRNG; the
 * prefix is chosen by the member that receives the Authenticate request and
 * travels through raft) and the raft index of the Authenticate entry, e.g.
 * `WzTbXbYsRmeQLaJf.42`. A token lives `ttlMs` (default 300 s,
 * `--auth-token-ttl`) after its last use: every successful lookup restarts its
 * TTL. Time comes from the injected {@link Clock}; expired tokens are dropped
 * when looked up or on {@link SimpleTokenProvider.sweep} (instead of etcd's
 * one-second ticker). Disabling the provider (auth disable) drops all tokens;
 * changing or deleting a user drops that user's tokens.
 */

import { randomInt } from 'node:crypto';
import type { Clock } from '../../util/clock.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Length of the random prefix (etcd `defaultSimpleTokenLength`). */
export const SIMPLE_TOKEN_LENGTH = 16;
/** Default token TTL: 300 s (etcd `simpleTokenTTLDefault`). */
export const DEFAULT_SIMPLE_TOKEN_TTL_MS = 300_000;

/** Who a token belongs to, with the auth revision to check requests against. */
export interface AuthInfo {
  readonly username: string;
  readonly revision: bigint;
}

/** What the auth store needs from a token provider (etcd `TokenProvider`). */
export interface TokenProvider {
  /** Starts accepting tokens (auth enabled). */
  enable(): void;
  /** Drops every token and stops accepting them (auth disabled). */
  disable(): void;
  /**
   * The user and revision of `token`, or undefined if it is unknown or expired
   * (a promise for providers that verify signatures, e.g. JWT).
   */
  info(token: string, revision: bigint): AuthInfo | undefined | Promise<AuthInfo | undefined>;
  /**
   * Issues a token for `username` (applied from the Authenticate entry at
   * `index` with `prefix`); a promise for providers that sign tokens (JWT).
   */
  assign(username: string, revision: bigint, index: bigint, prefix: string): string | Promise<string>;
  /** Drops every token of `username`. */
  invalidateUser(username: string): void;
  /** A fresh random prefix for an Authenticate request. */
  genTokenPrefix(): string;
}

/** Options of {@link SimpleTokenProvider}. */
export interface SimpleTokenOptions {
  readonly clock: Clock;
  /** Token TTL in ms (<= 0 or absent: 300 s). */
  readonly ttlMs?: number;
  /**
   * The raft index applied so far. A token whose index is above it is not
   * valid yet (etcd waits for the index; here the lookup fails and the client
   * retries). Absent: no check.
   */
  readonly appliedIndex?: () => bigint;
}

/** The simple token provider (etcd `tokenSimple`). */
export class SimpleTokenProvider implements TokenProvider {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly appliedIndex: (() => bigint) | undefined;
  /** token → user and expiry; undefined while disabled. */
  private tokens: Map<string, { username: string; expiryMs: number }> | undefined;

  constructor(opts: SimpleTokenOptions) {
    this.clock = opts.clock;
    this.ttlMs = opts.ttlMs && opts.ttlMs > 0 ? opts.ttlMs : DEFAULT_SIMPLE_TOKEN_TTL_MS;
    this.appliedIndex = opts.appliedIndex;
  }

  enable(): void {
    this.tokens ??= new Map();
  }

  disable(): void {
    this.tokens = undefined;
  }

  /** True while enabled. */
  isEnabled(): boolean {
    return this.tokens !== undefined;
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_TOKEN_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  assign(username: string, _revision: bigint, index: bigint, prefix: string): string {
    const token = `${prefix}.${index}`;
    if (!this.tokens) return token; // etcd: not recorded while disabled
    if (this.tokens.has(token)) throw new Error('auth: failed to assign already-used simple token to a user');
    this.tokens.set(token, { username, expiryMs: this.clock.nowMs() + this.ttlMs });
    return token;
  }

  info(token: string, revision: bigint): AuthInfo | undefined {
    const parts = token.split('.');
    if (parts.length !== 2 || !/^[0-9]+$/.test(parts[1]!)) return undefined;
    if (this.appliedIndex && BigInt(parts[1]!) > this.appliedIndex()) return undefined;
    const t = this.tokens?.get(token);
    if (!t) return undefined;
    const now = this.clock.nowMs();
    if (now > t.expiryMs) {
      this.tokens!.delete(token);
      return undefined;
    }
    t.expiryMs = now + this.ttlMs;
    return { username: t.username, revision };
  }

  invalidateUser(username: string): void {
    if (!this.tokens) return;
    for (const [tok, t] of this.tokens) if (t.username === username) this.tokens.delete(tok);
  }

  /** Drops expired tokens; returns how many. */
  sweep(): number {
    if (!this.tokens) return 0;
    const now = this.clock.nowMs();
    let n = 0;
    for (const [tok, t] of this.tokens) {
      if (now > t.expiryMs) {
        this.tokens.delete(tok);
        n++;
      }
    }
    return n;
  }

  /** Number of live (not yet swept) tokens. */
  size(): number {
    return this.tokens?.size ?? 0;
  }
}
