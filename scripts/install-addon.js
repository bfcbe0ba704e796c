#!/usr/bin/env node
'use strict';
/**
 * The package's `install` script, in plain JavaScript: it runs before anything is compiled (npm ci in
 * a checkout) and in an installed package, which has no TypeScript tooling.
 *
 * - In a source tree (binding.gyp is there: a checkout), it compiles the addon with node-gyp, as
 *   `"install": "node-gyp rebuild"` did.
 * - In a package made by `npm pack` (no binding.gyp, no C++ sources: it carries the addon built where
 *   it was packed, build/Release/mcr.node), there is nothing to compile: it checks that this node
 *   loads the addon, so that a package built for another architecture or C library fails the install
 *   with a reason instead of mcrd failing later. npm may skip install scripts (--ignore-scripts, or its
 *   allowScripts policy): the package works without this check.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const addon = path.join(root, 'build', 'Release', 'mcr.node');

if (fs.existsSync(path.join(root, 'binding.gyp'))) {
  // npm puts its own node-gyp on the PATH of lifecycle scripts.
  const build = spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
  if (build.error) {
    process.stderr.write(`mcr: cannot run node-gyp (${build.error.code ?? build.error.message}): run this through npm (npm ci, or npm run build:native)\n`);
    process.exit(1);
  }
  process.exit(build.status ?? 1);
}

try {
  require(addon);
} catch (err) {
  process.stderr.write(
    `mcr: the addon in this package (${addon}, compiled where the package was made) does not load on this ` +
      `machine: ${err.message}\nmcr: install from a checkout instead, which compiles it here (docs/guide.md, "Install")\n`,
  );
  process.exit(1);
}
