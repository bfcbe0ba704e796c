/** Page tokens, page sizes and page cutting (server/api/paging.ts). */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { ApiError, statusDetails } from '../../server/api/errors';
import { MAX_PAGE_SIZE, PAGE_BUDGET_BYTES } from '../../server/api/message-limits';
import {
  compareKeys,
  decodePageToken,
  encodePageToken,
  indexAfter,
  INVALID_PAGE_TOKEN,
  pageCursor,
  PageSource,
  queryFingerprint,
  sizeInList,
  takePage,
} from '../../server/api/paging';
import { BadRequest } from '../../gen/google/rpc/error_details';

/** The error `run` throws, which must be an ApiError. */
function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    return err as ApiError;
  }
  expect.fail('expected a refusal');
}

/** The BadRequest field violations of an error's details. */
function violations(err: ApiError): Array<{ field: string; description: string }> {
  const any = statusDetails(err).details.find((d) => d.typeUrl.endsWith('google.rpc.BadRequest'));
  expect(any, 'a BadRequest').to.not.equal(undefined);
  return BadRequest.decode(any!.value).fieldViolations.map(({ field, description }) => ({ field, description }));
}

interface Item {
  id: string;
  size: number;
}

function source(items: Item[], select: (item: Item) => boolean = () => true): PageSource<Item, Item> {
  return { sorted: items, keyOf: (item) => [item.id], select: (item) => (select(item) ? item : undefined), sizeOf: (item) => item.size };
}

/** Every page of `items` at `pageSize`, each read from `current()` as it is when the page is asked for. */
function walk(current: () => Item[], pageSize: number, query: unknown = {}, beforePage: (page: number) => void = () => undefined): Item[][] {
  const pages: Item[][] = [];
  let pageToken = '';
  for (let page = 0; page < 10_000; page++) {
    beforePage(page);
    const result = takePage(pageCursor({ pageSize, pageToken }, 'ListRules', query, 1), source(current()));
    pages.push(result.items);
    if (result.nextPageToken === '') return pages;
    pageToken = result.nextPageToken;
  }
  throw new Error('the walk did not end');
}

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: `r-${String(from + i).padStart(6, '0')}`, size: 100 }));

describe('paging', () => {
  describe('tokens', () => {
    const fingerprint = queryFingerprint({ filter: { inputInterface: 'eth0' } });

    it('round-trips the key of the last item, and are opaque base64url text', () => {
      const token = encodePageToken('ListRules', fingerprint, ['r-000042']);
      expect(token).to.match(/^[A-Za-z0-9_-]+$/);
      expect(decodePageToken(token, 'ListRules', fingerprint, 1)).to.deep.equal(['r-000042']);
      expect(decodePageToken('', 'ListRules', fingerprint, 1), 'empty: the first page').to.equal(undefined);
    });

    it('a token of another query is INVALID_ARGUMENT naming page_token, with reason INVALID_PAGE_TOKEN', () => {
      const token = encodePageToken('ListRules', fingerprint, ['r-1']);
      const err = refusal(() => decodePageToken(token, 'ListRules', queryFingerprint({ filter: { inputInterface: 'eth1' } }), 1));
      expect(err.code).to.equal(status.INVALID_ARGUMENT);
      expect(err.message).to.match(/^page_token: was issued for another query/);
      expect(err.reason).to.equal(INVALID_PAGE_TOKEN);
      expect(violations(err)).to.deep.equal([{ field: 'page_token', description: err.detail }]);
    });

    it('a token of another list is refused, saying whose it is', () => {
      const token = encodePageToken('ListTraces', fingerprint, ['r-1']);
      expect(refusal(() => decodePageToken(token, 'ListRules', fingerprint, 1)).message).to.equal('page_token: was issued by ListTraces, not ListRules');
    });

    it('anything but a token of this server is refused as one: garbage, edits, wrong shapes, oversized', () => {
      const good = encodePageToken('ListRules', fingerprint, ['r-1']);
      const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const bad = [
        'not a token!',
        good.slice(0, -3),
        `${good}=`,
        json({ v: 2, m: 'ListRules', q: fingerprint, k: ['r-1'] }),
        json({ v: 1, m: 'ListRules', q: fingerprint, k: 'r-1' }),
        json({ v: 1, m: 'ListRules', q: fingerprint, k: ['r-1', 'extra'] }),
        json({ v: 1, m: 'ListRules', q: fingerprint, k: [{}] }),
        json([1, 2]),
        json(null),
        'A'.repeat(2000),
      ];
      for (const token of bad) {
        const err = refusal(() => decodePageToken(token, 'ListRules', fingerprint, 1));
        expect(err.code, token).to.equal(status.INVALID_ARGUMENT);
        expect(err.field, token).to.equal('page_token');
      }
    });

    it('the fingerprint of a query is the same for equal queries (bigints included), different otherwise', () => {
      expect(queryFingerprint({ a: 1n, b: 'x' })).to.equal(queryFingerprint({ a: 1n, b: 'x' }));
      expect(queryFingerprint({ a: 1n })).to.not.equal(queryFingerprint({ a: 2n }));
    });
  });

  describe('page sizes', () => {
    it('0 is bounded by the byte budget only; above the maximum counts as the maximum; negative is refused', () => {
      expect(pageCursor({ pageSize: 0, pageToken: '' }, 'ListRules', {}, 1).limit).to.equal(Number.POSITIVE_INFINITY);
      expect(pageCursor({ pageSize: 7, pageToken: '' }, 'ListRules', {}, 1).limit).to.equal(7);
      expect(pageCursor({ pageSize: 2 ** 31 - 1, pageToken: '' }, 'ListRules', {}, 1).limit).to.equal(MAX_PAGE_SIZE.ListRules);
      expect(pageCursor({ pageSize: 501, pageToken: '' }, 'GetStats', {}, 1).limit).to.equal(MAX_PAGE_SIZE.GetStats);
      const err = refusal(() => pageCursor({ pageSize: -1, pageToken: '' }, 'ListRules', {}, 1));
      expect(err.code).to.equal(status.INVALID_ARGUMENT);
      expect(violations(err)).to.deep.equal([{ field: 'page_size', description: 'must be 0 (as many as fit in one message) or more, got -1' }]);
    });
  });

  describe('cutting pages', () => {
    it('pages are disjoint, in order, and cover every item; the last page has no token', () => {
      const items = ids(103);
      for (const size of [1, 10, 50, 103, 1000]) {
        const pages = walk(() => items, size);
        expect(pages.flat().map((i) => i.id), `page size ${size}`).to.deep.equal(items.map((i) => i.id));
        expect(pages.length).to.equal(Math.ceil(103 / size));
        expect(pages.slice(0, -1).every((p) => p.length === size)).to.equal(true);
      }
      expect(walk(() => [], 10)).to.deep.equal([[]]);
    });

    it('a page of selected items skips the others, and no empty last page follows the last selected item', () => {
      const items = ids(100);
      const even = (item: Item) => Number(item.id.slice(2)) % 2 === 0;
      const pages: Item[][] = [];
      let pageToken = '';
      do {
        const page = takePage(pageCursor({ pageSize: 10, pageToken }, 'ListRules', { even: true }, 1), source(items, even));
        pages.push(page.items);
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(pages.length).to.equal(5);
      expect(pages.flat().map((i) => i.id)).to.deep.equal(items.filter(even).map((i) => i.id));
    });

    it('an item that exists for the whole walk is seen exactly once, however the list changes between pages', () => {
      let items = ids(200);
      const steady = new Set(items.filter((_, i) => i % 3 !== 0).map((i) => i.id));
      const pages = walk(() => items, 17, {}, (page) => {
        if (page === 0) return;
        // Delete some items that are not steady, and add new ones before and after the walk's position.
        const gone = items.filter((item) => !steady.has(item.id)).slice(0, 3).map((i) => i.id);
        items = [...items.filter((item) => !gone.includes(item.id)), ...ids(2, 1000 + page * 2), { id: `r-00000${page}x`, size: 100 }].sort((a, b) => compareKeys([a.id], [b.id]));
      });
      const seen = pages.flat().map((i) => i.id);
      expect(new Set(seen).size, 'no item twice').to.equal(seen.length);
      for (const id of steady) expect(seen, id).to.include(id);
      expect(seen, 'in key order').to.deep.equal([...seen].sort());
    });

    it('a page stops before its items pass the byte budget, but always holds one item', () => {
      const big = Math.floor(PAGE_BUDGET_BYTES / 3) + 1;
      const items = ids(5).map((i) => ({ ...i, size: big }));
      expect(walk(() => items, 0).map((p) => p.length)).to.deep.equal([2, 2, 1]);
      const huge = ids(2).map((i) => ({ ...i, size: PAGE_BUDGET_BYTES * 2 }));
      expect(walk(() => huge, 0).map((p) => p.length)).to.deep.equal([1, 1]);
    });

    it('finds where a page starts by binary search over composite keys', () => {
      const sorted = [[1, 'a'], [1, 'b'], [3, 'a'], [2 ** 32, 'eth9']] as Array<[number, string]>;
      const keyOf = (k: [number, string]) => k;
      expect(indexAfter(sorted, keyOf, undefined)).to.equal(0);
      expect(indexAfter(sorted, keyOf, [1, 'a'])).to.equal(1);
      expect(indexAfter(sorted, keyOf, [1, 'aa'])).to.equal(1);
      expect(indexAfter(sorted, keyOf, [2, 'z'])).to.equal(2);
      expect(indexAfter(sorted, keyOf, [2 ** 32, 'eth9'])).to.equal(4);
      expect(compareKeys([10, 'a'], [9, 'b']), 'numbers as numbers').to.be.above(0);
    });

    it('sizeInList counts the tag and the length prefix', () => {
      expect(sizeInList(0)).to.equal(2);
      expect(sizeInList(127)).to.equal(129);
      expect(sizeInList(128)).to.equal(131);
      expect(sizeInList(16384)).to.equal(16388);
    });
  });
});
