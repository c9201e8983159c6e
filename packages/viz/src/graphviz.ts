import { Graphviz } from '@hpcc-js/wasm-graphviz';
import { VizInputError } from './errors.js';

// The wasm module is inlined in @hpcc-js/wasm-graphviz, so loading needs no network; it costs ~100 ms,
// hence one shared instance. Rendering is a pure function of the DOT text, so sharing leaks no state.
let graphvizLoading: Promise<Graphviz> | null = null;

export function loadGraphviz(): Promise<Graphviz> {
  if (!graphvizLoading) {
    graphvizLoading = Graphviz.load().catch((err: unknown) => {
      graphvizLoading = null; // let a later call retry instead of caching the failure
      throw err;
    });
  }
  return graphvizLoading;
}

/** Lays out DOT source with Graphviz `dot` (compiled to wasm) and returns a standalone SVG document. */
export async function renderDotSvg(dot: string): Promise<string> {
  const graphviz = await loadGraphviz();
  try {
    return graphviz.dot(dot, 'svg');
  } catch (err) {
    throw new VizInputError(`Graphviz could not lay out the DOT source: ${(err as Error).message}`);
  }
}
