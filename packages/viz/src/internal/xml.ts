// Tiny helpers for the hand-written SVG renderers (curves, heat map). Internal: not exported.

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => XML_ESCAPES[ch]);
}

/** Fixed precision keeps the SVG small and deterministic (no 0.30000000000000004 in the output). */
export function fmt(n: number): string {
  return Number.parseFloat(n.toFixed(2)).toString();
}

export const FONT_FAMILY = 'Helvetica, Arial, sans-serif';

/** Rough text width for layout; real fonts vary, so callers leave slack. */
export function approxTextWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}

export function svgOpen(width: number, height: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${fmt(width)}" height="${fmt(height)}" ` +
    `viewBox="0 0 ${fmt(width)} ${fmt(height)}" font-family="${FONT_FAMILY}">`
  );
}
