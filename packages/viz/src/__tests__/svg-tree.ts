// Reads an SVG document back into a tree for the tests: it fails on malformed XML, so a passing test
// also proves the renderer wrote well-formed markup.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface SvgElement {
  tag: string;
  attrs: Record<string, string>;
  children: SvgElement[];
  /** Concatenated text of this element's own text nodes. */
  text: string;
}

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

function convert(node: OrderedNode): SvgElement | null {
  const tag = Object.keys(node).find((k) => k !== ':@');
  if (!tag || tag === '#text' || tag.startsWith('?') || tag === '#comment') return null;
  const rawChildren = (node[tag] as OrderedNode[]) ?? [];
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(node[':@'] ?? {})) attrs[k.replace(/^@_/, '')] = String(v);
  return {
    tag,
    attrs,
    children: rawChildren.map(convert).filter((c): c is SvgElement => c !== null),
    text: rawChildren
      .filter((c) => '#text' in c)
      .map((c) => String(c['#text']))
      .join(''),
  };
}

export function parseSvg(svg: string): SvgElement {
  const valid = XMLValidator.validate(svg);
  if (valid !== true) throw new Error(`invalid XML: ${valid.err.msg} at line ${valid.err.line}`);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
    processEntities: true,
    htmlEntities: true,
  });
  const roots = (parser.parse(svg) as OrderedNode[]).map(convert).filter((c): c is SvgElement => c !== null);
  const svgRoot = roots.find((r) => r.tag === 'svg');
  if (!svgRoot) throw new Error('no <svg> root element');
  return svgRoot;
}

export function findAll(root: SvgElement, pred: (el: SvgElement) => boolean): SvgElement[] {
  const out: SvgElement[] = [];
  const walk = (el: SvgElement) => {
    if (pred(el)) out.push(el);
    el.children.forEach(walk);
  };
  walk(root);
  return out;
}

export function allText(el: SvgElement): string[] {
  return findAll(el, (e) => e.tag === 'text').map((t) => t.text);
}

export const hasClass = (el: SvgElement, cls: string) => (el.attrs.class ?? '').split(/\s+/).includes(cls);
