/**
 * The IP protocol a rule relays (Input.protocol): UDP to group:port (unset, IP_PROTOCOL_UDP), or ESP
 * to a group, which has no port (docs/decisions/0063-esp-rules.md).
 */
import type { Input } from '../../gen/mcr/v1/rules';
import { IpProtocol } from '../../gen/mcr/v1/rules';

/** The rule relays ESP (IP protocol 50), with no port on its input or its outputs. */
export function relaysEsp(input: Partial<Pick<Input, 'protocol'>> | undefined): boolean {
  return input?.protocol === IpProtocol.IP_PROTOCOL_ESP;
}

/** What an input's packets are addressed to: `239.1.1.1:5000`, or `239.1.1.1 esp`. */
export function inputDestination(input: Pick<Input, 'group' | 'port'> & Partial<Pick<Input, 'protocol'>>): string {
  return relaysEsp(input) ? `${input.group} esp` : `${input.group}:${input.port}`;
}

/** The IpProtocol values a request may carry (the decoder keeps any number it is sent). */
export const KNOWN_PROTOCOLS: Readonly<Record<number, true>> = {
  [IpProtocol.IP_PROTOCOL_UNSPECIFIED]: true,
  [IpProtocol.IP_PROTOCOL_UDP]: true,
  [IpProtocol.IP_PROTOCOL_ESP]: true,
};
