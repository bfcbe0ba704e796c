/** Versions: mcrd's own (package.json) and the API protocol's. */
import fs from 'fs';
import path from 'path';

export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 0;

/** What this server offers; clients may check for a feature before using it. */
export const FEATURES = ['rules', 'validate_only', 'stats', 'workers', 'health', 'reflection'];

function findPackageJson(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('package.json not found above ' + __dirname);
}

export const SERVER_VERSION: string = JSON.parse(fs.readFileSync(findPackageJson(), 'utf8')).version;
