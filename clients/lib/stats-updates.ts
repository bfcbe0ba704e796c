/**
 * WatchStats updates whole: mcrd sends an update too large for one message (4 MiB) as several, with
 * `continued` set on all but the last (rules in id order across them); this joins them again.
 */
import type { WatchStatsResponse } from '../../gen/mcr/v1/stats';

/**
 * The updates of a WatchStats stream, each whole: the rules of its parts in order, the other fields
 * as its last part has them, `continued` false. Leaving the loop ends (cancels) the stream.
 */
export async function* wholeStatsUpdates(messages: AsyncIterable<WatchStatsResponse>): AsyncGenerator<WatchStatsResponse> {
  let rules: WatchStatsResponse['rules'] = [];
  for await (const message of messages) {
    rules = rules.length === 0 ? message.rules : [...rules, ...message.rules];
    if (message.continued) continue;
    yield { ...message, rules, continued: false };
    rules = [];
  }
}
