import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The house's borders, checked on the source tree (daemon/src) or on a fixture tree shaped like it.
 * Every relative import counts, type-only and dynamic ones included. A "folder" is a top-level folder
 * of the tree; files at the top belong to the folder ".". See daemon/docs/layout.md for why each rule
 * exists.
 */

export interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

export interface SourceTree {
  files: string[];
  /** Each file's text, by its relative path. */
  sources: Map<string, string>;
  edges: Edge[];
}

export interface Violation {
  rule: string;
  detail: string;
}

export interface BorderReport {
  violations: Violation[];
  /** Folder -> its layer (1 + highest layer among the folders it imports); empty when folders form a cycle. */
  layers: Map<string, number>;
  layerCount: number;
}

/** Folders of the box runtime; the force wing must not import them and they must not import the force. */
const BOX_RUNTIME = ['app', 'kernel', 'cli', 'cameras', 'recorder', 'incidents', 'uplink', 'control', 'fleet', 'doctor'];
/** What the force wing may use: the shared, lower folders. */
const FORCE_MAY_IMPORT = ['force', 'util', 'log', 'crypto', 'protocol', 'evidence', 'vision', 'models', 'db', 'audit', 'config', 'program', 'https'];
/** The face pipeline may be imported on the box only by the incident's analyse step and two CLI commands. */
const VISION_ALLOWED = ['incidents/analyse-and-seal.ts', 'cli/commands/faces.ts', 'cli/commands/analyse.ts'];
/** Where SQL text may appear: the box's repositories and the force's. */
const SQL_HOMES = ['db/', 'force/db/'];
export const MAX_LAYERS = 8;

const SQL_TEXT = /^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX|TRIGGER|UNIQUE)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX|TRIGGER)|WITH\s+\w+\s+AS\s*\()/;

function listTs(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listTs(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function folderOf(rel: string): string {
  const i = rel.indexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

/**
 * Read a tree: its files (relative, with `/`) and every relative import between them. `extra` adds lines
 * to files (new ones are created): how the border test breaks a border on purpose without touching disk.
 */
export function readTree(root: string, extra: Record<string, string> = {}): SourceTree {
  const sources = new Map<string, string>();
  for (const file of listTs(root)) sources.set(path.relative(root, file).split(path.sep).join('/'), readFileSync(file, 'utf8'));
  for (const [rel, lines] of Object.entries(extra)) sources.set(rel, `${sources.get(rel) ?? ''}\n${lines}\n`);
  const edges: Edge[] = [];
  for (const [rel, src] of sources) {
    const sf = ts.createSourceFile(rel, src, ts.ScriptTarget.ES2022, true);
    const add = (spec: string, typeOnly: boolean): void => {
      if (!spec.startsWith('.')) return;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, '.ts');
      edges.push({ from: rel, to: target, typeOnly });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, Boolean(node.importClause?.isTypeOnly));
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, node.isTypeOnly);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = node.arguments[0];
        if (arg && ts.isStringLiteralLike(arg)) add(arg.text, false);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        add(node.argument.literal.text, true);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { files: [...sources.keys()], sources, edges };
}

/** Strongly connected components with more than one member (or a self-loop): the cycles. */
export function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || [...next(v)].includes(v)) out.push(c.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) strong(n);
  return out;
}

function sqlLiterals(rel: string, src: string): string[] {
  const sf = ts.createSourceFile(rel, src, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    let text: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) text = node.text;
    else if (ts.isTemplateExpression(node)) text = node.head.text;
    if (text !== undefined && SQL_TEXT.test(text)) {
      const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${rel}:${line + 1}: ${text.trim().split('\n')[0]!.slice(0, 60)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Check every rule on a tree; returns the violations (empty when the house is in order) and the layers. */
export function checkBorders(tree: SourceTree): BorderReport {
  const violations: Violation[] = [];
  const v = (rule: string, detail: string): void => {
    violations.push({ rule, detail });
  };
  const byFile = new Map<string, Edge[]>();
  for (const e of tree.edges) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e]);

  for (const c of cycles(tree.files, (f) => (byFile.get(f) ?? []).map((e) => e.to))) v('file-cycle', c.join(' -> '));

  const folderEdges = new Map<string, Set<string>>();
  for (const e of tree.edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a !== b) folderEdges.set(a, (folderEdges.get(a) ?? new Set()).add(b));
  }
  const folders = new Set(tree.files.map(folderOf));
  const folderCycles = cycles(folders, (f) => folderEdges.get(f) ?? []);
  for (const c of folderCycles) v('folder-cycle', c.join(' <-> '));

  for (const e of tree.edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    const at = `${e.from} imports ${e.to}`;
    if (a === b) continue;
    if (b === 'app' && a !== 'cli') v('feature-imports-app', at);
    if (a === 'db' && !['util', 'log'].includes(b)) v('db-imports-feature', at);
    if (e.from.startsWith('force/db/') && !['db', 'util', 'log'].includes(b)) v('db-imports-feature', at);
    if (a === 'force' && !FORCE_MAY_IMPORT.includes(b)) v('force-imports-box', at);
    if (BOX_RUNTIME.includes(a) && b === 'force') v('box-imports-force', at);
    if (b === 'devkit' && a !== 'devkit') v('imports-devkit', at);
    if (b === 'vision' && !['force', 'devkit'].includes(a) && !VISION_ALLOWED.includes(e.from)) v('vision-outside-analyse', at);
  }
  for (const e of tree.edges) {
    if (e.from.startsWith('force/db/') && folderOf(e.to) === 'force' && !e.to.startsWith('force/db/')) v('db-imports-feature', `${e.from} imports ${e.to}`);
  }

  for (const f of tree.files) {
    if (SQL_HOMES.some((h) => f.startsWith(h))) continue;
    for (const hit of sqlLiterals(f, tree.sources.get(f)!)) v('sql-outside-repositories', hit);
  }

  const layers = new Map<string, number>();
  if (folderCycles.length === 0) {
    const layer = (f: string): number => {
      const known = layers.get(f);
      if (known !== undefined) return known;
      let highest = 0;
      for (const g of folderEdges.get(f) ?? []) highest = Math.max(highest, layer(g));
      layers.set(f, highest + 1);
      return highest + 1;
    };
    for (const f of folders) layer(f);
  }
  const layerCount = Math.max(0, ...layers.values());
  if (layerCount > MAX_LAYERS) v('too-many-layers', `${layerCount} layers (at most ${MAX_LAYERS}): ${describeLayers(layers)}`);
  return { violations, layers, layerCount };
}

/** "1: log util · 2: crypto db ..." */
export function describeLayers(layers: Map<string, number>): string {
  const by = new Map<number, string[]>();
  for (const [f, n] of layers) by.set(n, [...(by.get(n) ?? []), f]);
  return [...by.keys()]
    .sort((a, b) => a - b)
    .map((n) => `${n}: ${by.get(n)!.sort().join(' ')}`)
    .join(' · ');
}
