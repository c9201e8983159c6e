// Test-only: parameter count of a desc under the DARTS / Archai op definitions (Archai §5), to
// check descs against the published network sizes without the ops package.
import type { ModelDesc, OpDesc } from '../model-desc.js';

function opParams(op: OpDesc): number {
  const conv = op.params.conv;
  const cin = conv?.chIn ?? 0;
  const cout = conv?.chOut ?? 0;
  const bn = 2 * cout; // affine BatchNorm: gamma and beta
  const dilConv = (k: number) => k * k * cin + cin * cout + bn; // depthwise + pointwise + BN
  switch (op.name) {
    case 'stem_conv3x3':
      return 9 * cin * cout + bn;
    case 'prepr_normal':
      return cin * cout + bn;
    case 'prepr_reduce':
      return 2 * cin * (cout / 2) + bn;
    case 'sep_conv_3x3':
      return 2 * dilConv(3);
    case 'sep_conv_5x5':
      return 2 * dilConv(5);
    case 'dil_conv_3x3':
      return dilConv(3);
    case 'dil_conv_5x5':
      return dilConv(5);
    case 'skip_connect':
      return op.params.stride === 2 ? 2 * cin * (cout / 2) + bn : 0;
    case 'max_pool_3x3':
    case 'avg_pool_3x3':
    case 'none':
    case 'concate_channels':
    case 'pool_adaptive_avg2d':
      return 0;
    case 'linear':
      return (op.params.n_ch as number) * (op.params.n_classes as number) + (op.params.n_classes as number);
    default:
      throw new Error(`darts-params: no count for op '${op.name}'`);
  }
}

export function countParams(desc: ModelDesc, withAux: boolean): number {
  let n = desc.modelStems.reduce((s, op) => s + opParams(op), 0);
  for (const cell of desc.cellDescs()) {
    n += cell.stems.reduce((s, op) => s + opParams(op), 0);
    for (const node of cell.nodes()) n += node.edges.reduce((s, e) => s + opParams(e.opDesc), 0);
    n += opParams(cell.postOp);
  }
  n += opParams(desc.poolOp) + opParams(desc.logitsOp);
  if (withAux) {
    for (const aux of desc.auxTowerDescs) {
      if (!aux) continue;
      // conv1x1 C->128 + BN, conv2x2 128->768 + BN, linear 768->n_classes
      n += aux.chIn * 128 + 256 + 128 * 768 * 4 + 1536 + 768 * aux.nClasses + aux.nClasses;
    }
  }
  return n;
}
