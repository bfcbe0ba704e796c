/**
 * List pagination (AIP-158; docs/decisions/0030): page sizes, page tokens, and cutting one page out of
 * a sorted list.
 *
 * A token names the last item of the page it follows (its sort key), never a position: the next page
 * starts after that key in the list as it is then, so an item present for a whole walk is seen
 * exactly once, whatever was added or removed meanwhile. A token also carries the method and a
 * fingerprint of the query (the filter and every other field that selects items, not page_size), so
 * one sent with another query is refused instead of silently paging something else. Tokens are
 * base64url text: opaque to clients, and checked field by field when they come back.
 */
import { createHash } from 'crypto';

import { status } from '@grpc/grpc-js';

import { ApiError, invalid } from './errors';
import { MAX_PAGE_SIZE, PAGE_BUDGET_BYTES, PagedMethod } from './message-limits';

/** A sort key: compared element by element (numbers as numbers, strings by code unit). */
export type SortKey = ReadonlyArray<string | number>;

/** ErrorInfo.reason of a page_token refused: a client may start its walk again. */
export const INVALID_PAGE_TOKEN = 'INVALID_PAGE_TOKEN';

const TOKEN_VERSION = 1;
/** Longer is not a token this server made (the longest real one is a few hundred characters). */
const MAX_TOKEN_LENGTH = 1024;

interface TokenBody {
  v: number;
  m: string;
  q: string;
  k: Array<string | number>;
}

/** The fingerprint of a query: any JSON-able value that is equal for equal queries. */
export function queryFingerprint(query: unknown): string {
  const canonical = JSON.stringify(query, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/** The token of the page after the one that ended with `key`. */
export function encodePageToken(method: PagedMethod, fingerprint: string, key: SortKey): string {
  const body: TokenBody = { v: TOKEN_VERSION, m: method, q: fingerprint, k: [...key] };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

function isKey(value: unknown): value is Array<string | number> {
  return Array.isArray(value) && value.every((part) => typeof part === 'string' || (typeof part === 'number' && Number.isFinite(part)));
}

/**
 * The key a page token resumes after, or undefined for an empty token (the first page). Anything
 * but a token this server made for this method and query is INVALID_ARGUMENT naming `page_token`.
 */
export function decodePageToken(token: string, method: PagedMethod, fingerprint: string, keyLength: number): SortKey | undefined {
  if (token === '') return undefined;
  const refuse = (why: string) => invalid('page_token', why).with({ reason: INVALID_PAGE_TOKEN });
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw refuse('is not a page token of this server: send back next_page_token exactly as received, or nothing for the first page');
  }
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenBody>;
  } catch {
    throw refuse('is not a page token of this server: send back next_page_token exactly as received, or nothing for the first page');
  }
  if (typeof body !== 'object' || body === null || body.v !== TOKEN_VERSION || !isKey(body.k) || body.k.length !== keyLength) {
    throw refuse('is not a page token of this server: send back next_page_token exactly as received, or nothing for the first page');
  }
  if (body.m !== method) throw refuse(`was issued by ${String(body.m)}, not ${method}`);
  if (body.q !== fingerprint) {
    throw refuse('was issued for another query: send the same filter (and rule) as for the first page, or start again without a token');
  }
  return body.k;
}

/**
 * Runs every check of a request and returns their results, or throws one INVALID_ARGUMENT listing
 * the violations of all of them (the first in the message), so that a client sees at once what is
 * wrong with page_size, page_token and filter together. Other errors pass through.
 */
export function checkedTogether<A, B>(first: () => A, second: () => B): [A, B] {
  const refusals: ApiError[] = [];
  const run = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== status.INVALID_ARGUMENT) throw err;
      refusals.push(err);
      return undefined;
    }
  };
  const a = run(first);
  const b = run(second);
  if (refusals.length === 1) throw refusals[0];
  if (refusals.length > 1) {
    const violations = refusals.flatMap((r) => r.extras.violations ?? [{ field: r.field ?? '', description: r.detail }]);
    throw refusals[0].with({ violations });
  }
  return [a as A, b as B];
}

/** How many items a page may hold: 0 = up to the byte budget only; above the maximum, the maximum. */
export function pageSizeLimit(pageSize: number, method: PagedMethod): number {
  if (!Number.isInteger(pageSize) || pageSize < 0) throw invalid('page_size', `must be 0 (as many as fit in one message) or more, got ${pageSize}`);
  if (pageSize === 0) return Number.POSITIVE_INFINITY;
  return Math.min(pageSize, MAX_PAGE_SIZE[method]);
}

export function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

/** The index of the first of `sorted` whose key is greater than `after` (binary search). */
export function indexAfter<T>(sorted: readonly T[], keyOf: (item: T) => SortKey, after: SortKey | undefined): number {
  if (after === undefined) return 0;
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(keyOf(sorted[mid]), after) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/** Where a page starts and how large it may be: a request's page_size and page_token, checked. */
export interface PageCursor {
  method: PagedMethod;
  fingerprint: string;
  /** Items at most (Infinity: only the byte budget bounds the page). */
  limit: number;
  /** The key the page starts after; undefined for the first page. */
  after: SortKey | undefined;
}

/**
 * The cursor of a request, or INVALID_ARGUMENT naming page_size or page_token. `query` is every field
 * of the request that selects items (not page_size or page_token); `keyLength` the items' key length.
 */
export function pageCursor(request: PageRequest, method: PagedMethod, query: unknown, keyLength: number): PageCursor {
  const fingerprint = queryFingerprint(query);
  const [limit, after] = checkedTogether(
    () => pageSizeLimit(request.pageSize, method),
    () => decodePageToken(request.pageToken, method, fingerprint, keyLength),
  );
  return { method, fingerprint, limit, after };
}

export interface PageOf<T> {
  items: T[];
  /** Empty when nothing follows. */
  nextPageToken: string;
}

export interface PageSource<S, T> {
  /** The candidates, sorted by key (ascending, unique keys). */
  sorted: readonly S[];
  keyOf: (item: S) => SortKey;
  /** The item as sent, or undefined when the query does not select it. */
  select: (item: S) => T | undefined;
  /** Its encoded size in the answer (see sizeInList). */
  sizeOf: (item: T) => number;
}

/** The encoded size of a message of `length` bytes as an element of a repeated field: tag, length, body. */
export function sizeInList(length: number): number {
  let prefix = 1;
  for (let rest = length; rest >= 0x80; rest = Math.floor(rest / 0x80)) prefix++;
  return 1 + prefix + length;
}

/**
 * One page: the selected items after the cursor's key, at most its limit and PAGE_BUDGET_BYTES
 * together (at least one item when any is left, so a walk always moves), and the token of the next
 * page when a selected item is left after it.
 */
export function takePage<S, T>(cursor: PageCursor, source: PageSource<S, T>): PageOf<T> {
  const items: T[] = [];
  let bytes = 0;
  let lastKey: SortKey | undefined;
  for (let i = indexAfter(source.sorted, source.keyOf, cursor.after); i < source.sorted.length; i++) {
    const item = source.select(source.sorted[i]);
    if (item === undefined) continue;
    const size = source.sizeOf(item);
    if (items.length >= cursor.limit || (items.length > 0 && bytes + size > PAGE_BUDGET_BYTES)) {
      return { items, nextPageToken: encodePageToken(cursor.method, cursor.fingerprint, lastKey!) };
    }
    items.push(item);
    bytes += size;
    lastKey = source.keyOf(source.sorted[i]);
  }
  return { items, nextPageToken: '' };
}
