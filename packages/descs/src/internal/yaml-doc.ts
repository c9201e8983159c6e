// Parsing a desc file's YAML with positions, shared by our reader and Archai's: the document, a
// `line:col` formatter, and the first syntax error as a DescError naming the file.
import {
  type DocumentOptions,
  LineCounter,
  type ParseOptions,
  parseDocument,
  type SchemaOptions,
} from 'yaml';
import { DescError } from '../errors.js';

export function parseDescYaml(
  text: string,
  name: string,
  file: string | undefined,
  options: ParseOptions & DocumentOptions & SchemaOptions = {},
) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, ...options });
  const pos = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new DescError(`${name}:${pos(e.pos[0])}: malformed YAML: ${e.message.split('\n')[0]}`, {
      file,
      cause: e,
    });
  }
  return { doc, lineCounter, pos };
}
