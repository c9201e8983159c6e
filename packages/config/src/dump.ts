import { stringify } from 'yaml';
import type { ConfigTree } from './tree.js';

export interface DumpOptions {
  /** Sort keys alphabetically. Default false: keys keep profile order, which is already deterministic. */
  sortKeys?: boolean;
}

/** The resolved profile as YAML, for `config_used.yaml`: no anchors, no folded lines, NaN as `.nan`. */
export function dumpConfig(tree: ConfigTree, options: DumpOptions = {}): string {
  return stringify(tree, {
    aliasDuplicateObjects: false,
    lineWidth: 0,
    sortMapEntries: options.sortKeys ?? false,
  });
}
