/**
 * A configuration schema as a Markdown reference for operators: every key with its type, default, limits
 * and description, one table per section. It reads the plain JSON Schema (what `hindsight config schema`
 * prints), so the page can only say what the schema says; `npm run schema` writes it and a unit test
 * fails when the committed page no longer matches.
 */

/** The part of a JSON Schema node the reference reads. */
interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  patternHint?: string;
  secret?: boolean;
  path?: boolean;
}

/** One configuration file of the reference. */
export interface ReferencedFile {
  /** Heading of its part of the page. */
  title: string;
  /** Paragraphs under the heading (how the file is found, overrides...), Markdown. */
  intro: string[];
  /** Prefix of its environment overrides, e.g. HINDSIGHT_. */
  envPrefix: string;
  /** Its JSON Schema (plain JSON, as written to config/hindsight.schema.json). */
  schema: object;
  /** A sentence appended to a key's description, by dotted key (who else may set it). */
  notes?: Record<string, string>;
}

export class ReferenceError extends Error {}

/**
 * Markdown: a table cell may hold no newline and no unescaped pipe, and outside code spans a `<name>` would
 * be read as an HTML tag and vanish.
 */
function cell(text: string): string {
  return text
    .replace(/\r?\n/g, ' ')
    .replace(/\|/g, '\\|')
    .split('`')
    .map((part, i) => (i % 2 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`');
}

function code(value: string): string {
  return value.includes('`') ? `\`\` ${value} \`\`` : `\`${value}\``;
}

function literal(value: unknown): string {
  return code(JSON.stringify(value));
}

function typeOf(node: SchemaNode, key: string): string {
  if (node.enum) return `one of ${node.enum.map(literal).join(', ')}`;
  if (node.anyOf) return node.anyOf.map((n) => (n.const !== undefined ? literal(n.const) : typeOf(n, key))).join(' or ');
  if (node.type === 'array') {
    if (!node.items) throw new ReferenceError(`config key ${key}: a list without an item schema; give it \`items\``);
    return `list of ${typeOf(node.items, `${key}[]`)}`;
  }
  if (!node.type) throw new ReferenceError(`config key ${key}: no type, enum or anyOf in its schema; the reference cannot say what it holds`);
  return node.type;
}

function limitsOf(node: SchemaNode): string[] {
  const limits: string[] = [];
  if (node.minimum !== undefined && node.maximum !== undefined) limits.push(`${node.minimum} to ${node.maximum}`);
  else if (node.minimum !== undefined) limits.push(`at least ${node.minimum}`);
  else if (node.maximum !== undefined) limits.push(`at most ${node.maximum}`);
  if (node.maxLength !== undefined) limits.push(`at most ${node.maxLength} characters`);
  if (node.maxItems !== undefined) limits.push(`at most ${node.maxItems} items`);
  if (node.pattern !== undefined) limits.push(`matches ${code(node.pattern)}`);
  if (node.items) limits.push(...limitsOf(node.items).map((l) => `each ${l}`));
  return limits;
}

function row(key: string, node: SchemaNode, required: boolean, file: ReferencedFile): string {
  if (!node.description) throw new ReferenceError(`config key ${key} has no description: add one to its schema (every key the operator can set says what it does)`);
  const defaultText = node.default !== undefined ? literal(node.default) : required ? '(required)' : '(none)';
  const words = [node.description];
  if (node.secret) words.push(`A secret: may be given as \`${key.split('.').pop()}_file: /path\` instead; \`config check\` never prints it.`);
  if (node.path) words.push("A path: relative to the config file's folder.");
  if (node.patternHint) words.push(`If refused: ${node.patternHint}.`);
  const note = file.notes?.[key];
  if (note) words.push(note);
  // the loader takes only <PREFIX><SECTION>__<KEY> variables: a top-level key has none
  const env = key.includes('.') ? code(`${file.envPrefix}${key.toUpperCase().replace(/\./g, '__')}`) : '-';
  return `| ${code(key)} | ${cell(typeOf(node, key))} | ${cell(defaultText)} | ${cell(limitsOf(node).join('; ') || '-')} | ${cell(words.join(' '))} | ${env} |`;
}

/** Top-level keys first (one "Top level" table), then one table per section, each nested section after its parent's keys. */
function sections(file: ReferencedFile): string[] {
  const out: string[] = [];
  const table = (heading: string, description: string | undefined, node: SchemaNode, prefix: string, depth: number): void => {
    const leaves = Object.entries(node.properties ?? {}).filter(([, child]) => !child.properties);
    const nested = Object.entries(node.properties ?? {}).filter(([, child]) => child.properties);
    if (leaves.length || prefix) {
      out.push(`${'#'.repeat(depth)} ${heading}`, '');
      if (description) out.push(cell(description), '');
    }
    if (leaves.length) {
      out.push('| key | type | default | limits | what it does | environment |', '|---|---|---|---|---|---|');
      for (const [name, child] of leaves) out.push(row(prefix + name, child, node.required?.includes(name) ?? false, file));
      out.push('');
    }
    for (const [name, child] of nested) table(code(prefix + name), child.description, child, `${prefix}${name}.`, prefix ? depth + 1 : depth);
  };
  table('Top level', undefined, file.schema as SchemaNode, '', 3);
  return out;
}

/** The whole reference page for the given files, in their order. */
export function configReference(header: string[], files: ReferencedFile[]): string {
  const lines = [...header, ''];
  for (const file of files) {
    lines.push(`## ${file.title}`, '', ...file.intro.flatMap((p) => [p, '']), ...sections(file));
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}
