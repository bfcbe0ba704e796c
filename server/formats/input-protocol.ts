/**
 * The IP protocol a rule relays (Input.protocol): UDP to group:port (unset, IP_PROTOCOL_UDP), or ESP
 * to a group, which has no port (docs/decisions/0063-esp-rules.md); and how an input's destination
 * is written, by mcrd's messages and mcrctl's views alike.
 */
import type { Input } from '../../gen/mcr/v1/rules';
import { IpProtocol } from '../../gen/mcr/v1/rules';
import { PROTOCOL_ESP } from './protocol-word';

/** The rule relays ESP (IP protocol 50), with no port on its input or its outputs. */
export function relaysEsp(input: Partial<Pick<Input, 'protocol'>> | undefined): boolean {
  return input?.protocol === IpProtocol.IP_PROTOCOL_ESP;
}

/** What an input's packets are addressed to: `239.1.1.1:5000`, or `239.1.1.1 esp`. */
export function inputDestination(input: Pick<Input, 'group' | 'port'> & Partial<Pick<Input, 'protocol'>>): string {
  return relaysEsp(input) ? `${input.group} ${PROTOCOL_ESP}` : `${input.group}:${input.port}`;
}
