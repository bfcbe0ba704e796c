/**
 * Walking a paged list (AIP-158): call, send back next_page_token, until it comes back empty. mcrd
 * names the last item sent in each token (not a position), so a walk neither repeats nor skips an item
 * that exists from its start to its end, even while the rules change; what changed meanwhile may or
 * may not be in it, which the store generation of the first and last page tells (StoreWalk).
 */

/** What a page request has (every paged request of mcr.v1). */
export interface PagedRequest {
  pageSize?: number;
  pageToken?: string;
}

/** What a page has (every paged response of mcr.v1). */
export interface PagedResponse {
  nextPageToken: string;
}

/**
 * The page size the library asks for when walking: the largest mcrd takes for rules (ListRules); a
 * list with a smaller maximum counts it as its own (GetStats: 500). Every page fits in one message.
 */
export const WALK_PAGE_SIZE = 1000;

/** A walk that got a token it already had: the server would send the same page again, forever. */
export class PageLoopError extends Error {
  constructor(rpc: string, page: number) {
    super(`${rpc}: page ${page} carried a page token already used: the walk was stopped (a server fault)`);
    this.name = 'PageLoopError';
  }
}

/**
 * Every page of a list, in order: `call` is made with `request` (page_size WALK_PAGE_SIZE unless it
 * sets one) and then with each next_page_token. A failed call rejects the walk with its error.
 */
export async function* walkPages<Req extends PagedRequest, Res extends PagedResponse>(
  rpc: string,
  call: (request: Req) => Promise<Res>,
  request: Req,
): AsyncGenerator<Res> {
  const seen = new Set<string>();
  let pageToken = request.pageToken ?? '';
  for (let page = 1; ; page++) {
    const response = await call({ ...request, pageSize: request.pageSize || WALK_PAGE_SIZE, pageToken });
    yield response;
    pageToken = response.nextPageToken;
    if (pageToken === '') return;
    if (seen.has(pageToken)) throw new PageLoopError(rpc, page);
    seen.add(pageToken);
  }
}

/**
 * Every page's items in one response: the items of all pages in order, the other fields as the last
 * page has them, next_page_token empty.
 */
export async function collectPages<Res extends PagedResponse, K extends keyof Res>(pages: AsyncIterable<Res>, items: K): Promise<Res> {
  let last: Res | undefined;
  const all: unknown[] = [];
  for await (const page of pages) {
    all.push(...(page[items] as unknown as unknown[]));
    last = page;
  }
  return { ...last!, [items]: all, nextPageToken: '' };
}

/** The rule store's generation at the first and at the last page of a walk (ListRules, GetStats). */
export interface StoreWalk {
  /** store_generation of the first page. */
  firstStoreGeneration: bigint;
  /**
   * The rules changed during the walk (the generations differ): a rule created, changed or deleted
   * meanwhile may be missing, or shown as it was; every other rule is there exactly once.
   */
  storeChanged: boolean;
}

/** collectPages for lists that carry store_generation, noting whether the store changed meanwhile. */
export async function collectStorePages<Res extends PagedResponse & { storeGeneration: bigint }, K extends keyof Res>(
  pages: AsyncIterable<Res>,
  items: K,
): Promise<Res & StoreWalk> {
  let first: bigint | undefined;
  async function* noted(): AsyncGenerator<Res> {
    for await (const page of pages) {
      first ??= page.storeGeneration;
      yield page;
    }
  }
  const all = await collectPages(noted(), items);
  return { ...all, firstStoreGeneration: first!, storeChanged: first !== all.storeGeneration };
}
