// The page's files: our HTML, script and style (src/ops/page/assets/, copied to
// dist/page/ by scripts/bundle.mjs) and uPlot's, read from its installed package
// (no CDN: a gateway is often offline). Read once, on first request, then kept.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  contentType: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
};

/** URL path → where the file is: our own (by name) or a package's (by module id). */
const OWN = ['index.html', 'app.js', 'charts.js', 'render.js', 'sensors.js', 'app.css'];
const PACKAGED: Record<string, string> = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/**
 * Our assets' directory: beside this module when run from source, dist/page/
 * when bundled (the bundle's import.meta.url is dist/cli/main.js).
 */
export function assetsDir(moduleUrl = import.meta.url): string {
  const candidates = [fileURLToPath(new URL('./assets/', moduleUrl)), fileURLToPath(new URL('../page/', moduleUrl))];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`status page assets not found (looked in ${candidates.join(', ')})`);
  return found;
}

export class StaticAssets {
  private readonly cache = new Map<string, Asset>();
  private dir?: string;

  /** The asset for a name under /assets/ (or index.html), undefined when there is none. */
  get(name: string): Asset | undefined {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const file = this.locate(name);
    if (!file) return undefined;
    const ext = name.slice(name.lastIndexOf('.'));
    const asset = { contentType: TYPES[ext] ?? 'application/octet-stream', body: readFileSync(file) };
    this.cache.set(name, asset);
    return asset;
  }

  private locate(name: string): string | undefined {
    if (OWN.includes(name)) return join((this.dir ??= assetsDir()), name);
    const id = PACKAGED[name];
    return id ? createRequire(import.meta.url).resolve(id) : undefined;
  }
}
