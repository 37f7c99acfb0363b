// Bundles the Geobrowser into dist/ (served by `gep serve` at /ui/): the app's ES modules into
// one file, MapLibre GL JS beside it (v6 finds its worker next to its own module), the offline
// basemap made from Natural Earth (world-atlas TopoJSON -> GeoJSON), and Swagger UI for
// /api.html. Run by `make ui` (and so by `make run` / `make test`); nothing here is fetched at
// run time.
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { feature, mesh } from "topojson-client";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const modules = join(here, "node_modules");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "vendor"), { recursive: true });
mkdirSync(join(out, "basemap"), { recursive: true });
mkdirSync(join(out, "swagger"), { recursive: true });

// MapLibre stays a module of its own, which the page's import map names "maplibre-gl" (one
// name whichever chunk imports it)
const maplibre = join(modules, "maplibre-gl", "dist");
for (const f of ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"]) {
  cpSync(join(maplibre, f), join(out, "vendor", f));
}
const externalMaplibre = {
  name: "external-maplibre",
  setup(b) {
    b.onResolve({ filter: /^maplibre-gl$/ }, () => ({
      path: "maplibre-gl",
      external: true,
    }));
  },
};
await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "esm",
  minify: true,
  keepNames: true,
  sourcemap: true,
  target: ["chrome110", "firefox110", "safari16"],
  splitting: true, // the file readers (KML, Shapefile) load only when a file is dropped
  outdir: out,
  entryNames: "app",
  chunkNames: "chunks/[name]-[hash]",
  plugins: [externalMaplibre],
  logLevel: "warning",
});
cpSync(join(modules, "uplot", "dist", "uPlot.min.css"), join(out, "vendor", "uPlot.min.css"));
for (const f of ["index.html", "app.css", "favicon.svg"]) {
  cpSync(join(here, "src", f), join(out, f));
}

// Natural Earth 1:50m (public domain) through world-atlas: land, and the borders between
// countries as lines (drawn once, not twice per shared edge); and 1:110m, a tenth of the bytes,
// which the map starts on (it is ready sooner) until it is zoomed in far enough for 1:50m.
// 1:50m is good to a few hundred metres: 3 decimals (~100 m) lose nothing.
const round = (key, value) => (typeof value === "number" ? Math.round(value * 1e3) / 1e3 : value);
for (const [scale, suffix] of [["50m", ""], ["110m", "-110m"]]) {
  const world = JSON.parse(readFileSync(join(modules, "world-atlas", `countries-${scale}.json`)));
  const land = JSON.parse(readFileSync(join(modules, "world-atlas", `land-${scale}.json`)));
  writeFileSync(
    join(out, "basemap", `land${suffix}.geojson`),
    JSON.stringify(feature(land, land.objects.land), round),
  );
  writeFileSync(
    join(out, "basemap", `borders${suffix}.geojson`),
    JSON.stringify(mesh(world, world.objects.countries, (a, b) => a !== b), round),
  );
}
const swagger = join(modules, "swagger-ui-dist");
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]) {
  cpSync(join(swagger, f), join(out, "swagger", f));
}
console.log(`Geobrowser built in ${out}`);
