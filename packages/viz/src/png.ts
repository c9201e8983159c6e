import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { VizInputError } from './errors.js';

export interface PngOptions {
  /** Pixels per SVG unit; default 2 (sharp on high-density screens). */
  scale?: number;
  /** Extra .ttf/.otf files, for machines without system fonts (text is dropped when no font is found). */
  fontFiles?: string[];
}

type ResvgModule = typeof import('@resvg/resvg-js');
let resvgLoading: Promise<ResvgModule> | null = null;

// @resvg/resvg-js is an optional dependency (a prebuilt native binary per platform), so it is loaded
// only when a PNG is asked for and the SVG renderers keep working where it is missing.
function loadResvg(): Promise<ResvgModule> {
  if (!resvgLoading) {
    resvgLoading = import('@resvg/resvg-js').catch((err: unknown) => {
      resvgLoading = null;
      throw new Error(
        `svgToPng needs the optional dependency @resvg/resvg-js, which did not load on ` +
          `${process.platform}-${process.arch}: ${(err as Error).message}`,
        { cause: err },
      );
    });
  }
  return resvgLoading;
}

/** Rasterises an SVG document to PNG bytes (off the main thread). */
export async function svgToPng(svg: string, opts: PngOptions = {}): Promise<Uint8Array> {
  const scale = opts.scale ?? 2;
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 16)) {
    throw new VizInputError(`svgToPng: scale is ${scale}, expected a number in (0, 16]`);
  }
  const { renderAsync } = await loadResvg();
  const options: ResvgRenderOptions = {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      loadSystemFonts: true,
      fontFiles: opts.fontFiles ?? [],
      // Our SVGs ask for Helvetica, Arial, sans-serif; Linux often has neither named font, and resvg's
      // own sans-serif default is Arial, so name the sans font most Linux systems ship.
      sansSerifFamily: 'DejaVu Sans',
      defaultFontFamily: 'DejaVu Sans',
    },
    logLevel: 'off',
  };
  try {
    const image = await renderAsync(svg, options);
    return new Uint8Array(image.asPng());
  } catch (err) {
    throw new VizInputError(`svgToPng: the SVG could not be rendered: ${(err as Error).message}`);
  }
}
