/**
 * Who may call what, on top of who can reach a listener at all (the unix socket's mode and group,
 * TLS and client certificates on TCP).
 *
 * Without tokens, whoever connects has full access. With a full-access token and/or a read-only
 * token configured, every mcr.v1 call must carry `authorization: Bearer TOKEN`:
 *   - no token, or one matching neither: UNAUTHENTICATED;
 *   - the read-only token on a method that changes rules or settings: PERMISSION_DENIED.
 * Tokens are compared in constant time (SHA-256 of both sides, then timingSafeEqual), so neither the
 * content nor the length of a token leaks through timing. grpc.health.v1 and server reflection stay
 * open: probes and `grpcurl list` need no secret and learn nothing about the rules.
 */
import { Metadata, ServiceDefinition, status, UntypedServiceImplementation } from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'crypto';

import type { AccessTokens } from '../config/tokens';
import { checkedImplementation } from './call-check';
import { ApiError } from './errors';

/**
 * Methods the read-only token may not call: they change rules or settings. Reading rules, stats,
 * workers, interfaces and events, and tracing (which observes packets, is bounded and switches
 * itself off) are read-only.
 */
export const WRITE_METHODS: ReadonlySet<string> = new Set([
  '/mcr.v1.RuleService/CreateRule',
  '/mcr.v1.RuleService/UpdateRule',
  '/mcr.v1.RuleService/DeleteRule',
  '/mcr.v1.RuleService/ApplyRules',
  '/mcr.v1.SystemService/SetLogLevel',
]);

const BEARER = /^Bearer +(\S+)\s*$/i;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class AccessControl {
  private readonly full: Buffer | null;
  private readonly readOnly: Buffer | null;

  constructor(tokens: AccessTokens) {
    if (tokens.full !== undefined && tokens.full === tokens.readOnly) throw new Error('the full-access and read-only tokens must differ');
    this.full = tokens.full === undefined ? null : sha256(tokens.full);
    this.readOnly = tokens.readOnly === undefined ? null : sha256(tokens.readOnly);
  }

  get enabled(): boolean {
    return this.full !== null || this.readOnly !== null;
  }

  /** Why a call of `path` with `metadata` is refused, or null when it is allowed. */
  check(path: string, metadata: Metadata): ApiError | null {
    if (!this.enabled) return null;
    const values = metadata.get('authorization');
    const presented = values.length === 1 ? BEARER.exec(String(values[0]))?.[1] : undefined;
    if (presented === undefined) {
      return new ApiError(status.UNAUTHENTICATED, undefined, 'this call needs a token: send "authorization: Bearer TOKEN" (mcrctl --token-file FILE)');
    }
    const digest = sha256(presented);
    // Both comparisons always run: which token matched does not show in the timing either.
    const isFull = this.full !== null && timingSafeEqual(digest, this.full);
    const isReadOnly = this.readOnly !== null && timingSafeEqual(digest, this.readOnly);
    if (isFull) return null;
    if (!isReadOnly) return new ApiError(status.UNAUTHENTICATED, undefined, 'the token is not valid');
    if (WRITE_METHODS.has(path)) return new ApiError(status.PERMISSION_DENIED, undefined, `the read-only token cannot call ${path.slice(1)}`);
    return null;
  }

  /** `implementation` with every method checked first; refused calls never reach it. */
  guard(definition: ServiceDefinition, implementation: UntypedServiceImplementation): UntypedServiceImplementation {
    if (!this.enabled) return implementation;
    return checkedImplementation(definition, implementation, (path, metadata) => this.check(path, metadata));
  }
}
