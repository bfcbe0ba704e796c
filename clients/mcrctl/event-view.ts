/**
 * Text view of `mcrctl events`: one line per event, "TIME  KIND  MESSAGE", with the kind column as
 * wide as the longest kind word so that messages line up, and a note line whenever mcrd reports that
 * it dropped events for this client.
 */
import { Event, WatchEventsResponse } from '../../gen/mcr/v1/system';
import { EVENT_KIND_WORDS, eventKindWord } from './event-kinds';
import { formatLocalTime } from './format';

const KIND_WIDTH = Math.max(...EVENT_KIND_WORDS.map((word) => word.length));

/** "2025-01-02 15:04:05.678  interface          interface eth1 (index 3) up" */
export function eventLine(event: Event): string {
  return `${formatLocalTime(event.unixNanos)}  ${eventKindWord(event.kind).padEnd(KIND_WIDTH)}  ${event.message}`.trimEnd();
}

/** Says how many events were lost since the previous note (`total` is mcrd's cumulative count). */
export function droppedNote(lost: bigint, total: bigint): string {
  const events = lost === 1n ? '1 event' : `${lost} events`;
  return `note: ${events} dropped because this client read too slowly (${total} in all)`;
}

/**
 * Turns the WatchEvents messages of one stream into text, one call per message. It remembers the
 * dropped count last seen, to print the note only when the count grows.
 */
export class EventLines {
  private dropped = 0n;

  /**
   * The lines for one message, each ending with a newline: the note if events were lost, then the
   * event (mcrd always sends one; a message without one has nothing more to show).
   */
  render(response: WatchEventsResponse): string {
    let text = '';
    if (response.droppedEvents > this.dropped) {
      text += droppedNote(response.droppedEvents - this.dropped, response.droppedEvents) + '\n';
      this.dropped = response.droppedEvents;
    }
    if (response.event !== undefined) text += eventLine(response.event) + '\n';
    return text;
  }
}
