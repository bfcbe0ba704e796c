/**
 * A trace's settings as EnableTrace asks for them: 0 means the default, anything else must be in its
 * range (see proto/mcr/v1/trace.proto). Errors name the request field.
 */
import type { EnableTraceRequest } from '../../gen/mcr/v1/trace';

import { exhausted, invalid } from '../rules/errors';

export interface TraceSettings {
  sampleEvery: number;
  snapLength: number;
  recordLimit: number;
  timeLimitMs: number;
}

interface SettingRule {
  /** The request field, as the proto spells it (for errors). */
  field: string;
  key: keyof TraceSettings;
  /** What 0 means. */
  fallback: number;
  max: number;
}

export const SETTING_RULES: readonly SettingRule[] = [
  { field: 'sample_every', key: 'sampleEvery', fallback: 1, max: 1_000_000 },
  { field: 'snap_length', key: 'snapLength', fallback: 128, max: 2048 },
  { field: 'record_limit', key: 'recordLimit', fallback: 1000, max: 100_000 },
  { field: 'time_limit_ms', key: 'timeLimitMs', fallback: 60_000, max: 3_600_000 },
];

/**
 * The settings a request asks for, defaults filled in; INVALID_ARGUMENT naming the first bad field,
 * RESOURCE_EXHAUSTED for a record_limit within the API's range but above `maxRecords` (--max-trace-records).
 */
export function resolveSettings(request: Pick<EnableTraceRequest, keyof TraceSettings>, maxRecords: number): TraceSettings {
  const settings = {} as TraceSettings;
  for (const { field, key, fallback, max } of SETTING_RULES) {
    const value = request[key];
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw invalid(field, `must be 1-${max} (0 means ${fallback}), got ${value}`);
    }
    settings[key] = value === 0 ? fallback : value;
  }
  if (settings.recordLimit > maxRecords) {
    throw exhausted('record_limit', `${settings.recordLimit} is above the limit of ${maxRecords} records (--max-trace-records)`, '--max-trace-records');
  }
  return settings;
}
