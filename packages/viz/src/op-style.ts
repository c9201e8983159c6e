/** Families of DARTS primitives; each family gets one colour in cell diagrams. */
export type OpFamily = 'pool' | 'skip' | 'sep_conv' | 'dil_conv' | 'none' | 'other';

export interface OpFamilyStyle {
  /** Edge and label colour. */
  color: `#${string}`;
  /** Graphviz edge style. */
  style: 'solid' | 'dashed' | 'dotted';
}

// Colour-blind-safe hues (Okabe-Ito), dark enough to read as label text on white.
export const OP_FAMILY_STYLES: Readonly<Record<OpFamily, OpFamilyStyle>> = {
  pool: { color: '#0072B2', style: 'solid' },
  skip: { color: '#009E73', style: 'solid' },
  sep_conv: { color: '#D55E00', style: 'solid' },
  dil_conv: { color: '#8E44AD', style: 'solid' },
  none: { color: '#999999', style: 'dashed' },
  other: { color: '#333333', style: 'solid' },
};

/** Classifies an op by Archai's primitive names (`max_pool_3x3`, `skip_connect`, `sep_conv_5x5`, ...). */
export function opFamily(opName: string): OpFamily {
  if (/pool/.test(opName)) return 'pool';
  if (opName === 'skip_connect' || opName === 'identity') return 'skip';
  if (opName.startsWith('sep_conv')) return 'sep_conv';
  if (opName.startsWith('dil_conv')) return 'dil_conv';
  if (opName === 'none' || opName === 'zero') return 'none';
  return 'other';
}
