/**
 * The generated code of mcr.v1 (gen/), loaded on first use. Each generated file also defines its
 * service's grpc-js client and so loads grpc-js: most of mcrctl's start-up time, which parsing the
 * command line (--help, --version, usage errors, completion) does without
 * (docs/decisions/0016-mcrctl-startup.md). Modules the parser loads take the generated values from
 * here; the types are imported as types.
 */
import type * as RulesProto from '../../gen/mcr/v1/rules';
import type * as SystemProto from '../../gen/mcr/v1/system';

export function rulesProto(): typeof RulesProto {
  return require('../../gen/mcr/v1/rules') as typeof RulesProto;
}

export function systemProto(): typeof SystemProto {
  return require('../../gen/mcr/v1/system') as typeof SystemProto;
}
