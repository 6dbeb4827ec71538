// Builds dist/: the daemon and CLI as ONE minified CommonJS file instead of
// hundreds of modules. On a Pi this is what makes the daemon fit:
//  - Node keeps every loaded file's source and module record in memory, and
//    resolves each import on disk at start-up; one file is ~12 MiB smaller and
//    starts about twice as fast as tsc's per-file output (docs/benchmarks.md);
//  - CommonJS rather than ESM chunks: esbuild turns `await import('./bridge')`
//    into a function call, so a capability that is not configured (bridge,
//    serial, WebSocket, the CLI parser) is only pre-parsed, never run, and
//    loading one costs no module resolution. Resolving ESM chunks at start-up
//    ran Node's URL/path helpers hot enough for V8 to page in its optimising
//    compiler: ~4 MiB of RSS on an otherwise idle gateway.
// dist/package.json says "commonjs" (the package itself is "module"). Native
// addons stay in node_modules; the JavaScript around them is bundled too.
// A source map (dist/cli/main.js.map, not loaded) maps stack traces back.

import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * @serialport/bindings-cpp finds its prebuilt addon relative to its own file
 * (`join(__dirname, '../')`); bundled, __dirname would be dist/cli. Point it at
 * the installed package instead (node-gyp-build then picks the prebuild for the
 * platform and architecture, as it does unbundled).
 */
const serialportAddonFromPackage = {
  name: 'serialport-addon-from-package',
  setup(b) {
    b.onLoad({ filter: /[\\/]@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const original = "(0, path_1.join)(__dirname, '../')";
      if (!source.includes(original)) throw new Error(`${args.path}: unexpected source, update scripts/bundle.mjs`);
      const located = "require('node:path').dirname(require.resolve('@serialport/bindings-cpp/package.json'))";
      return { contents: source.replace(original, located), loader: 'js' };
    });
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'cli'), { recursive: true });
writeFileSync(join(dist, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
// The status page's HTML, script and style, found at run time beside the bundle
// (src/ops/page/staticAssets.ts looks in dist/page/); uPlot's come from its package.
cpSync(join(root, 'src', 'ops', 'page', 'assets'), join(dist, 'page'), { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: join(dist, 'cli', 'main.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.12',
  // The addons (.node) load from node_modules: better-sqlite3's by path
  // (src/storage/sqlite.ts), serialport's through the plugin above.
  plugins: [serialportAddonFromPackage],
  external: ['@serialport/bindings-cpp/package.json'],
  // Code that locates the package from its own file (import.meta.url) keeps working.
  define: { 'import.meta.url': '__edgegateFileUrl' },
  banner: { js: "const __edgegateFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  minifyWhitespace: true,
  minifySyntax: true,
  // One-byte source: any non-ASCII character would make V8 hold the bundle as UTF-16 (twice the memory).
  charset: 'ascii',
  legalComments: 'none',
  sourcemap: 'linked',
  logLevel: 'warning',
});
