/**
 * List paging as Compute Engine does it: "maxResults: The maximum number of results per page that
 * should be returned. If the number of available results is larger than maxResults, Compute Engine
 * returns a nextPageToken that can be used to get the next page of results in subsequent list
 * requests. Acceptable values are 0 to 500, inclusive. (Default: 500)" and "pageToken: Set
 * pageToken to the nextPageToken returned by a previous list request to get the next page"
 * (compute/docs/reference/rest/v1/zoneOperations/list; instances.list and aggregatedList alike).
 * Results come "in alphanumerical order based on the resource name" unless orderBy says otherwise.
 */
import { HttpError } from './errors';

/** The most a page may hold (GCE's documented maximum of maxResults). */
export const GCE_MAX_RESULTS = 500;

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/**
 * One page of `all` (already filtered and ordered) for the query's maxResults and pageToken. A
 * token names the offset and the query it belongs to, so that one replayed against another list
 * is refused as GCE refuses it.
 */
export function pageOf<T>(
  all: T[],
  query: Record<string, string>,
  maxPageSize: number,
  scope: string,
): Page<T> {
  const asked = query.maxResults === undefined ? GCE_MAX_RESULTS : Number(query.maxResults);
  if (!Number.isInteger(asked) || asked < 0 || asked > GCE_MAX_RESULTS) {
    throw new HttpError(
      400,
      'invalid',
      `Invalid value for field 'maxResults': '${query.maxResults}'. Must be less than or equal to 500`,
    );
  }
  // maxResults 0 is GCE's default, as an unset field is.
  const size = Math.min(asked === 0 ? GCE_MAX_RESULTS : asked, maxPageSize);
  let offset = 0;
  if (query.pageToken) {
    const [tokenScope, at] = Buffer.from(query.pageToken, 'base64url').toString('utf8').split('\n');
    offset = Number(at);
    if (tokenScope !== `${scope}|${query.filter ?? ''}` || !Number.isInteger(offset) || offset < 0) {
      throw new HttpError(400, 'invalid', `Invalid value for field 'pageToken': '${query.pageToken}'.`);
    }
  }
  const items = all.slice(offset, offset + size);
  const next = offset + size;
  return next < all.length
    ? {
        items,
        nextPageToken: Buffer.from(`${scope}|${query.filter ?? ''}\n${next}`).toString('base64url'),
      }
    : { items };
}

/** Sorts by `name`, as GCE lists resources by default. */
export function byName<T extends { name: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
