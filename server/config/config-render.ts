/**
 * Rules written back in the config file's format (`mcrctl config show` and `config save`): what
 * config-file.ts reads, so that loading the result (with --replace) changes nothing.
 *
 * A rule's id is written only when it is not the id derived from its match key (a chosen id, or one
 * kept through a change of match key): left out, it would be derived again, on any host. Unset
 * fields (no name, any source, no VLAN; no output source, ttl, dscp or preserve_tos) are left out. An
 * output with ttl_policy TTL_POLICY_DECREMENT is written `ttl: "decrement"`; TTL_POLICY_FIXED, the
 * default, is not written (the file reads it back as unset, which means fixed too). Likewise
 * oversize: OVERSIZE_POLICY_DROP is written `oversize: "drop"`, OVERSIZE_POLICY_FRAGMENT (the default)
 * is not; and protocol: an ESP rule's input is written `protocol: "esp"`, without the port of its input
 * and outputs (which it has not), a UDP rule's as before, without `protocol`.
 */
import { IpProtocol, OversizePolicy, Rule, TtlPolicy } from '../../gen/mcr/v1/rules';
import { OVERSIZE_DROP } from '../formats/oversize-word';
import { PROTOCOL_ESP } from '../formats/protocol-word';
import { TTL_DECREMENT } from '../formats/ttl-word';
import { deriveRuleId } from '../rules/id';

interface FileInput {
  interface: string;
  group: string;
  /** Left out of an ESP rule's input, which has none. */
  port?: number;
  source?: string;
  vlan?: number;
  /** Written for ESP only: UDP is the default. */
  protocol?: typeof PROTOCOL_ESP;
}

interface FileOutput {
  interface: string;
  address: string;
  /** Left out of an ESP rule's outputs, which have none. */
  port?: number;
  source?: string;
  ttl?: number | typeof TTL_DECREMENT;
  dscp?: number;
  preserveTos?: boolean;
  oversize?: typeof OVERSIZE_DROP;
}

interface FileRule {
  id?: string;
  name?: string;
  input: FileInput;
  outputs: FileOutput[];
}

/** The config document holding `rules` (and nothing else: the settings are mcrd's command line's). */
export interface RulesDocument {
  rules: FileRule[];
}

export function rulesDocument(rules: readonly Rule[]): RulesDocument {
  return { rules: rules.map(fileRule) };
}

function fileRule(rule: Rule): FileRule {
  const input = rule.input!;
  const esp = input.protocol === IpProtocol.IP_PROTOCOL_ESP;
  const entry: FileRule = {
    input: esp ? { interface: input.interface, group: input.group } : { interface: input.interface, group: input.group, port: input.port },
    outputs: rule.outputs.map((output) => {
      const out: FileOutput = esp ? { interface: output.interface, address: output.address } : { interface: output.interface, address: output.address, port: output.port };
      if (output.source) out.source = output.source;
      if (output.ttlPolicy === TtlPolicy.TTL_POLICY_DECREMENT) out.ttl = TTL_DECREMENT;
      else if (output.ttl !== undefined) out.ttl = output.ttl;
      if (output.dscp !== undefined) out.dscp = output.dscp;
      if (output.preserveTos !== undefined) out.preserveTos = output.preserveTos;
      if (output.oversize === OversizePolicy.OVERSIZE_POLICY_DROP) out.oversize = OVERSIZE_DROP;
      return out;
    }),
  };
  if (input.source) entry.input.source = input.source;
  if (input.vlan !== undefined) entry.input.vlan = input.vlan;
  if (esp) entry.input.protocol = PROTOCOL_ESP;
  // Key order as in the file format: id, name, input, outputs.
  const head: Pick<FileRule, 'id' | 'name'> = {};
  if (rule.id !== deriveRuleId(input)) head.id = rule.id;
  if (rule.name) head.name = rule.name;
  return { ...head, ...entry };
}

/**
 * The document as JSON5 text: `header` lines as // comments, then one rule per block with its input
 * and each output on one line, trailing commas, keys unquoted.
 */
export function renderRulesJson5(document: RulesDocument, header: readonly string[] = []): string {
  const lines = header.map((line) => `// ${line}`.trimEnd());
  if (document.rules.length === 0) {
    lines.push('{', '  rules: [],', '}');
  } else {
    lines.push('{', '  rules: [');
    for (const rule of document.rules) {
      lines.push('    {');
      if (rule.id !== undefined) lines.push(`      id: ${JSON.stringify(rule.id)},`);
      if (rule.name !== undefined) lines.push(`      name: ${JSON.stringify(rule.name)},`);
      lines.push(`      input: ${inline(rule.input)},`, '      outputs: [');
      for (const output of rule.outputs) lines.push(`        ${inline(output)},`);
      lines.push('      ],', '    },');
    }
    lines.push('  ],', '}');
  }
  return lines.join('\n') + '\n';
}

/** `{ key: value, ... }` on one line; the keys are all plain identifiers. */
function inline(value: object): string {
  const members = Object.entries(value).map(([key, member]) => `${key}: ${JSON.stringify(member)}`);
  return `{ ${members.join(', ')} }`;
}
