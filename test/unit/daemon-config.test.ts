/** mcrd's --config: which flags were given, and the file's settings under them. */
import { expect } from 'chai';

import { parseConfig } from '../../server/config/config-file';
import { withFileSettings } from '../../server/config/daemon-config';
import { DEFAULT_SOCKET, parseDaemonArgs } from '../../server/config/options';

const FILE = parseConfig('{ listen: ["unix:/run/file.sock"], workers: 3, logLevel: "debug", rules: [] }', 'mcr.json5');

describe('mcrd config file settings', () => {
  it('records --config and which overridable flags were given', () => {
    const options = parseDaemonArgs(['--config', '/etc/mcr/mcr.json5', '--workers', '2']);
    expect(options.config).to.equal('/etc/mcr/mcr.json5');
    expect([...options.commandLine]).to.deep.equal(['workers']);
    expect(parseDaemonArgs([]).config).to.equal(undefined);
  });

  it('takes the file\'s settings where no flag was given', () => {
    const options = withFileSettings(parseDaemonArgs(['--config', 'mcr.json5']), FILE);
    expect(options.listen).to.deep.equal([{ kind: 'unix', path: '/run/file.sock' }]);
    expect(options.workers).to.equal(3);
    expect(options.logLevel).to.equal('debug');
  });

  it('lets every flag given win over the file', () => {
    const argv = ['--config', 'mcr.json5', '--listen', 'unix:/tmp/flag.sock', '--workers', '1', '--log-level', 'warn'];
    const options = withFileSettings(parseDaemonArgs(argv), FILE);
    expect(options.listen).to.deep.equal([{ kind: 'unix', path: '/tmp/flag.sock' }]);
    expect(options.workers).to.equal(1);
    expect(options.logLevel).to.equal('warn');
  });

  it('keeps the defaults for what neither gives', () => {
    const options = withFileSettings(parseDaemonArgs(['--config', 'mcr.json5']), parseConfig('{ rules: [] }', 'mcr.json5'));
    expect(options.listen).to.deep.equal([{ kind: 'unix', path: DEFAULT_SOCKET }]);
    expect(options.logLevel).to.equal('info');
  });
});
