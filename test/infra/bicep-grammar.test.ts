import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The Bicep grammar of tree-sitter (compiled to WebAssembly, so nothing is downloaded at run time): a real parser
// for the templates, since no Bicep compiler installs on this machine without fetching a binary.
import Parser from 'web-tree-sitter';

const infra = join(__dirname, '..', '..', 'infra');
const bicepFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );

describe('Bicep templates', () => {
  let parser: Parser;

  beforeAll(async () => {
    await Parser.init();
    parser = new Parser();
    parser.setLanguage(await Parser.Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm')));
  });

  it.each(bicepFiles(infra).map((f) => [f.slice(infra.length + 1), f]))(
    '%s parses without syntax errors',
    (_, file) => {
      const tree = parser.parse(readFileSync(file, 'utf8'));
      const errors: string[] = [];
      const visit = (node: Parser.SyntaxNode): void => {
        if (node.type === 'ERROR' || node.isMissing) {
          errors.push(`${node.startPosition.row + 1}:${node.startPosition.column + 1} ${node.type}`);
        }
        node.children.forEach(visit);
      };
      visit(tree.rootNode);
      expect(errors).toEqual([]);
      expect(tree.rootNode.hasError).toBe(false);
    },
  );

  it('finds the templates', () => {
    expect(bicepFiles(infra).length).toBeGreaterThanOrEqual(2);
  });
});
