/**
 * @module server/auth/token-jwt
 * etcd's JWT token provider (etcd 3.4 auth/jwt.go, auth/options.go) and the
 * `--auth-token` option parser (auth/store.go decomposeOpts, NewTokenProvider).
 *
 * `--auth-token jwt,sign-method=RS256,priv-key=FILE[,pub-key=FILE][,ttl=DURATION]`:
 * - sign-method: one of jwt-go's registered algorithms; HS256/384/512 (the
 *   priv-key file's bytes are the HMAC secret), RS256/384/512 and PS256/384/512
 *   (RSA keys), ES256/384/512 (EC keys). `none` and `EdDSA` are names jwt-go
 *   knows but etcd cannot use ("unsupported signing method: ..."); any other
 *   name is ErrInvalidAuthMethod, reported as ErrInvalidAuthOpts.
 * - priv-key / pub-key: PEM files (PKCS#1, PKCS#8 or SEC 1 private keys; SPKI
 *   public keys or certificates). With only pub-key the member verifies tokens
 *   but cannot issue them: Authenticate fails with ErrVerifyOnly.
 * - ttl: a Go duration, default 5m. `--auth-token-ttl` does not apply to JWT.
 * - RSA keys must have at least 2048 bits (a startup error otherwise; etcd
 *   also takes shorter ones, which the JOSE library refuses).
 * - unknown option names are logged ("unknown JWT options") and ignored.
 *
 * Tokens are compact JWS with header `{"alg":…,"typ":"JWT"}` and claims
 * `{"exp":<unix seconds>,"revision":<auth revision>,"username":<name>}` (the
 * key order of Go's map encoding), so tokens of real etcd and of this server
 * made with the same key are interchangeable. A token is valid when its
 * signature verifies with the configured key and algorithm and it has not
 * expired; the revision in it is checked by the auth store
 * (ErrAuthOldRevision). Signing and verifying use the `jose` library.
 *
 * Startup errors are etcd's: option parse failures are logged as "problem
 * loading JWT options" and become ErrInvalidAuthOpts; key errors (missing key,
 * wrong key type, unreadable PEM, mismatched pair) are returned as they are.
 */

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, jwtVerify } from 'jose';
import { parseGoDuration } from '../embed/go-flag.js';
import { ErrInvalidAuthMethod, ErrInvalidAuthOpts, ErrKeyMismatch, ErrMissingKey, ErrVerifyOnly } from './errors.js';
import { SimpleTokenProvider, type AuthInfo, type TokenProvider } from './token-simple.js';
import type { Clock } from '../../util/clock.js';
import { goPathError } from '../../util/go-errors.js';

/** Default JWT lifetime (etcd auth.DefaultTTL): 5 minutes. */
export const DEFAULT_JWT_TTL_MS = 5 * 60 * 1000;

/** The algorithm families jwt-go registers, by name. */
const SIGN_METHODS: Record<string, 'hmac' | 'rsa' | 'ecdsa' | 'none' | 'ed25519'> = {
  HS256: 'hmac', HS384: 'hmac', HS512: 'hmac',
  RS256: 'rsa', RS384: 'rsa', RS512: 'rsa',
  PS256: 'rsa', PS384: 'rsa', PS512: 'rsa',
  ES256: 'ecdsa', ES384: 'ecdsa', ES512: 'ecdsa',
  none: 'none',
  EdDSA: 'ed25519',
};

/** The jwt-go type name etcd prints for a sign method it cannot use. */
const UNSUPPORTED_TYPE_NAME: Record<string, string> = { none: '*jwt.signingMethodNone', EdDSA: '*jwt.SigningMethodEd25519' };

const JWT_OPTIONS = new Set(['sign-method', 'pub-key', 'priv-key', 'ttl']);

/** What the token code logs (zap-like). */
export interface TokenLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Splits an `--auth-token` value into the token type and its `key=value`
 * options (etcd decomposeOpts). Throws ErrInvalidAuthOpts for an option
 * without exactly one `=` or a repeated option name (logged as
 * "invalid token option").
 */
export function decomposeTokenOptions(optstr: string, log?: TokenLogger): { type: string; opts: Map<string, string> } {
  const parts = optstr.split(',');
  const opts = new Map<string, string>();
  for (const o of parts.slice(1)) {
    const pair = o.split('=');
    if (pair.length !== 2) {
      log?.warn('invalid token option', { option: optstr });
      throw new ErrInvalidAuthOpts();
    }
    if (opts.has(pair[0]!)) {
      log?.warn('invalid token option', { option: optstr, 'duplicate-parameter': pair[0] });
      throw new ErrInvalidAuthOpts();
    }
    opts.set(pair[0]!, pair[1]!);
  }
  return { type: parts[0]!, opts };
}

/** Options of {@link newTokenProvider}. */
export interface TokenProviderOptions {
  readonly clock: Clock;
  /** `--auth-token-ttl` in ms (simple tokens only). */
  readonly simpleTtlMs: number;
  /** The applied raft index (simple tokens). */
  readonly appliedIndex: () => bigint;
  readonly log?: TokenLogger;
  /** Wall clock in ms for JWT `exp` (default Date.now). */
  readonly now?: () => number;
}

/**
 * The token provider for `--auth-token` (etcd NewTokenProvider): `simple`,
 * `jwt,...`; anything else (including an empty type) throws
 * ErrInvalidAuthOpts, as do malformed options; JWT key errors are thrown as
 * etcd returns them (see the module comment).
 */
export function newTokenProvider(authToken: string, o: TokenProviderOptions): TokenProvider {
  const { type, opts } = decomposeTokenOptions(authToken, o.log);
  switch (type) {
    case 'simple':
      o.log?.warn('simple token is not cryptographically signed');
      return new SimpleTokenProvider({ clock: o.clock, ttlMs: o.simpleTtlMs, appliedIndex: o.appliedIndex });
    case 'jwt':
      return JwtTokenProvider.fromOptions(opts, { log: o.log, now: o.now });
    default:
      o.log?.warn('unknown token type', { type, error: new ErrInvalidAuthOpts().message });
      throw new ErrInvalidAuthOpts();
  }
}

/** Parsed JWT options (etcd jwtOptions). */
interface JwtOptions {
  signMethod: string;
  publicKey?: Buffer;
  privateKey?: Buffer;
  ttlMs: number;
}

/** etcd jwtOptions.ParseWithDefaults: ttl, pub-key file, priv-key file, then the sign method. */
function parseJwtOptions(opts: ReadonlyMap<string, string>): JwtOptions {
  let ttlMs = DEFAULT_JWT_TTL_MS;
  const ttl = opts.get('ttl') ?? '';
  if (ttl !== '') ttlMs = parseGoDuration(ttl) / 1e6;
  const read = (file: string | undefined): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(goPathError('open', file, e));
    }
  };
  const publicKey = read(opts.get('pub-key'));
  const privateKey = read(opts.get('priv-key'));
  const signMethod = opts.get('sign-method') ?? '';
  if (!Object.hasOwn(SIGN_METHODS, signMethod)) throw new ErrInvalidAuthMethod();
  return { signMethod, publicKey, privateKey, ttlMs };
}

const PEM_ERROR = 'invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key';

function hasPem(b: Buffer): boolean {
  return /-----BEGIN [^-]+-----/.test(b.toString('latin1'));
}

/** A private key of `type` ('rsa' | 'ec') from PEM, with jwt-go's errors. */
function privateKeyOf(pem: Buffer, type: 'rsa' | 'ec'): KeyObject {
  if (!hasPem(pem)) throw new Error(PEM_ERROR);
  let k: KeyObject;
  try {
    k = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`x509: failed to parse private key: ${(e as Error).message}`);
  }
  const t = k.asymmetricKeyType;
  if (type === 'rsa' ? t !== 'rsa' && t !== 'rsa-pss' : t !== 'ec') {
    throw new Error(type === 'rsa' ? 'key is not a valid RSA private key' : 'key is not a valid ECDSA private key');
  }
  return k;
}

/** A public key of `type` from PEM (SPKI or a certificate), with jwt-go's errors. */
function publicKeyOf(pem: Buffer, type: 'rsa' | 'ec'): KeyObject {
  if (!hasPem(pem)) throw new Error(PEM_ERROR);
  let k: KeyObject;
  try {
    k = createPublicKey(pem);
  } catch (e) {
    throw new Error(`x509: failed to parse public key: ${(e as Error).message}`);
  }
  const t = k.asymmetricKeyType;
  if (type === 'rsa' ? t !== 'rsa' && t !== 'rsa-pss' : t !== 'ec') {
    throw new Error(type === 'rsa' ? 'key is not a valid RSA public key' : 'key is not a valid ECDSA public key');
  }
  return k;
}

/**
 * etcd's pair check, kept as it is: a pair is refused only when *every*
 * compared component differs (rsaKey: E and N; ecKey: curve, X and Y).
 */
function checkPair(priv: KeyObject, pub: KeyObject): void {
  const a = createPublicKey(priv).export({ format: 'jwk' });
  const b = pub.export({ format: 'jwk' });
  const differ = a.kty === 'RSA' ? a.e !== b.e && a.n !== b.n : a.crv !== b.crv && a.x !== b.x && a.y !== b.y;
  if (differ) throw new ErrKeyMismatch();
}

/** The JWT token provider (etcd tokenJWT); see the module comment. */
export class JwtTokenProvider implements TokenProvider {
  /** @param signKey undefined: verify-only (public key given alone) */
  private constructor(
    readonly signMethod: string,
    private readonly signKey: KeyObject | Uint8Array | undefined,
    private readonly verifyKey: KeyObject | Uint8Array,
    readonly ttlMs: number,
    private readonly log: TokenLogger | undefined,
    private readonly now: () => number,
  ) {}

  /**
   * Builds the provider from the `jwt,...` options (etcd newTokenProviderJWT).
   * Throws ErrInvalidAuthOpts for option errors (logged), ErrMissingKey,
   * ErrKeyMismatch, or a key error with jwt-go's message.
   */
  static fromOptions(opts: ReadonlyMap<string, string>, o: { log?: TokenLogger; now?: () => number } = {}): JwtTokenProvider {
    let p: JwtOptions;
    try {
      p = parseJwtOptions(opts);
    } catch (e) {
      o.log?.error('problem loading JWT options', { error: (e as Error).message });
      throw new ErrInvalidAuthOpts();
    }
    const unknown = [...opts.keys()].filter((k) => !JWT_OPTIONS.has(k));
    if (unknown.length > 0) o.log?.warn('unknown JWT options', { keys: unknown });
    const family = SIGN_METHODS[p.signMethod]!;
    const now = o.now ?? Date.now;
    switch (family) {
      case 'hmac': {
        if (!p.privateKey?.length) throw new ErrMissingKey();
        const secret = new Uint8Array(p.privateKey);
        return new JwtTokenProvider(p.signMethod, secret, secret, p.ttlMs, o.log, now);
      }
      case 'rsa':
      case 'ecdsa': {
        const type = family === 'rsa' ? 'rsa' : 'ec';
        const priv = p.privateKey?.length ? privateKeyOf(p.privateKey, type) : undefined;
        const pub = p.publicKey?.length ? publicKeyOf(p.publicKey, type) : undefined;
        // jose refuses RSA keys under 2048 bits when signing and verifying (etcd takes them):
        // refuse them at startup instead of failing every Authenticate
        const bits = (priv ?? pub)?.asymmetricKeyDetails?.modulusLength;
        if (family === 'rsa' && bits !== undefined && bits < 2048) {
          throw new Error(`auth: RSA keys shorter than 2048 bits are not supported by this etcd (the key has ${bits})`);
        }
        if (!priv) {
          if (!pub) throw new ErrMissingKey();
          return new JwtTokenProvider(p.signMethod, undefined, pub, p.ttlMs, o.log, now);
        }
        if (pub) checkPair(priv, pub);
        return new JwtTokenProvider(p.signMethod, priv, createPublicKey(priv), p.ttlMs, o.log, now);
      }
      default:
        throw new Error(`unsupported signing method: ${UNSUPPORTED_TYPE_NAME[p.signMethod]}`);
    }
  }

  enable(): void {}

  disable(): void {}

  invalidateUser(): void {}

  /** JWT needs no prefix: the empty string (etcd tokenJWT.genTokenPrefix). */
  genTokenPrefix(): string {
    return '';
  }

  /** True when the member can only verify tokens (public key only). */
  isVerifyOnly(): boolean {
    return this.signKey === undefined;
  }

  /**
   * Signs a token for `username` at auth `revision`, expiring ttl from now.
   * Rejects ErrVerifyOnly without a private key.
   */
  async assign(username: string, revision: bigint): Promise<string> {
    if (!this.signKey) throw new ErrVerifyOnly();
    const exp = Math.floor((this.now() + this.ttlMs) / 1000);
    return new SignJWT({ exp, revision: Number(revision), username })
      .setProtectedHeader({ alg: this.signMethod, typ: 'JWT' })
      .sign(this.signKey);
  }

  /**
   * The user and revision of a token whose signature verifies with this
   * member's key and algorithm and that has not expired; undefined otherwise
   * (logged, as etcd does). `revision` (the store's) is not used.
   */
  async info(token: string): Promise<AuthInfo | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, { algorithms: [this.signMethod], currentDate: new Date(this.now()) });
      const username = payload['username'];
      const revision = payload['revision'];
      if (typeof username !== 'string' || typeof revision !== 'number' || !Number.isFinite(revision) || revision < 0) {
        this.log?.warn('invalid JWT token', { token });
        return undefined;
      }
      return { username, revision: BigInt(Math.trunc(revision)) };
    } catch (e) {
      this.log?.warn('failed to parse a JWT token', { token, error: (e as Error).message });
      return undefined;
    }
  }
}
