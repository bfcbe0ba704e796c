/** Text view of `mcrctl interfaces`: the interfaces mcrd sees and those rules name, with their rules. */
import { Interface } from '../../gen/mcr/v1/system';
import { renderTable } from './table';

/**
 * "missing" (a rule names it but it does not exist), "down" (not administratively up), "no carrier"
 * (up but not running: cable out, peer down) or "up" (traffic can pass).
 */
export function interfaceState(iface: Pick<Interface, 'exists' | 'up' | 'running'>): string {
  if (!iface.exists) return 'missing';
  if (!iface.up) return 'down';
  return iface.running ? 'up' : 'no carrier';
}

/** One entry per line, or "-" for none. */
function lines(values: readonly string[]): string {
  return values.length === 0 ? '-' : values.join('\n');
}

/** One row per interface, in mcrd's order; addresses and rule ids one per line. */
export function interfacesTable(interfaces: readonly Interface[]): string {
  const right = 'right' as const;
  return renderTable(
    [
      { header: 'NAME' },
      { header: 'INDEX', align: right },
      { header: 'STATE' },
      { header: 'MTU', align: right },
      { header: 'MAC' },
      { header: 'ADDRESSES' },
      { header: 'INPUT RULES' },
      { header: 'OUTPUT RULES' },
    ],
    interfaces.map((iface) => [
      iface.name,
      iface.exists ? String(iface.index) : '-',
      interfaceState(iface),
      iface.exists ? String(iface.mtu) : '-',
      iface.mac || '-',
      lines(iface.addresses.map((a) => `${a.address}/${a.prefixLength}`)),
      lines(iface.inputRules),
      lines(iface.outputRules),
    ]),
  );
}
