// Finds promises dropped with `void` that nobody handles: in Node an unhandled rejection ends the
// process (the companion), and in a page it is lost without a word. `void` marks a promise nobody
// waits for, so a `void` call must end in `.catch(…)` (or `.then(ok, failed)`, then any
// `.finally(…)`), or be an async IIFE whose whole body is one try with a catch. `return void x()` is
// the other idiom (return from a void function in one line) and is left alone. Syntax only (the
// TypeScript here, 7, has no JavaScript API for types): a sync call needs no `void` at all.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAst } from 'vite';

export interface DroppedPromise {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

type Node = { type: string; start: number; end: number; [key: string]: unknown };

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && typeof (v as Node).type === 'string';

function handled(e: Node): boolean {
  let x = e;
  const member = (n: Node) => (n.type === 'CallExpression' && isNode(n.callee) && n.callee.type === 'MemberExpression' ? (n.callee as Node) : undefined);
  const nameOf = (m: Node) => (isNode(m.property) && m.property.type === 'Identifier' ? (m.property.name as string) : '');
  // `.finally()` passes a rejection on: look at what it is called on.
  for (let m = member(x); m && nameOf(m) === 'finally'; m = member(x)) x = m.object as Node;
  const m = member(x);
  if (m && (nameOf(m) === 'catch' || (nameOf(m) === 'then' && (x.arguments as unknown[]).length >= 2))) return true;
  if (x.type === 'CallExpression' && isNode(x.callee) && (x.callee.type === 'ArrowFunctionExpression' || x.callee.type === 'FunctionExpression')) {
    const body = x.callee.body as Node;
    const statements = body.type === 'BlockStatement' ? (body.body as Node[]) : [];
    return statements.length === 1 && statements[0].type === 'TryStatement' && isNode(statements[0].handler);
  }
  return false;
}

/** The unhandled `void` calls in one file's source. */
export function droppedIn(file: string, source: string): DroppedPromise[] {
  const found: DroppedPromise[] = [];
  const lineAt = (offset: number) => source.slice(0, offset).split('\n').length;
  const visit = (node: Node, parent: Node | undefined): void => {
    if (node.type === 'UnaryExpression' && node.operator === 'void' && parent?.type !== 'ReturnStatement') {
      const argument = node.argument as Node;
      if (argument.type === 'CallExpression' && !handled(argument))
        found.push({ file, line: lineAt(node.start), text: source.slice(node.start, node.end).split('\n')[0] });
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) for (const v of value) isNode(v) && visit(v, node);
      else if (isNode(value)) visit(value, node);
    }
  };
  visit(parseAst(source, { lang: file.endsWith('.tsx') ? 'tsx' : 'ts' }) as unknown as Node, undefined);
  return found;
}

/** Every unhandled `void` call in the .ts files under `dirs` (relative to `root`), test code aside. */
export function droppedPromises(root: string, dirs: readonly string[]): DroppedPromise[] {
  const found: DroppedPromise[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'testing' && name !== 'node_modules') walk(path);
      } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) {
        found.push(...droppedIn(relative(root, path), readFileSync(path, 'utf8')));
      }
    }
  };
  for (const d of dirs) walk(join(root, d));
  return found;
}
