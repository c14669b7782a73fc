#!/usr/bin/env node
// A real graphql-ws (npm) client for Leadgraph's acceptance tests.
//
//   node tests/node/subscribe.mjs --url ws://127.0.0.1:8080/graphql/ws --token <accessToken> \
//       [--variables '{"types":["LEAD_CREATED"]}'] [--count N] [--timeout-ms MS] '<subscription>'
//
// The URL and token may also come from LG_WS_URL and LG_TOKEN; the query may be given with
// --query instead of as the positional argument.
//
// stdout, one JSON object per line:
//   {"ready":true}          once, when the server acknowledged connection_init (connection_ack)
//   {"data":{...}}          every `next` payload, as received
// Exit status: 0 after N payloads (--count N, N > 0); 1 on a timeout (--timeout-ms, default
// 30000), 2 on an error (rejected init, closed socket, GraphQL `error` message), 3 when the server
// completed the operation before N payloads, 64 on bad usage. Diagnostics go to stderr. The client
// never retries: a lost connection is an error, so the caller decides when to reconnect (with
// `after`).
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

function usage(message) {
  process.stderr.write(`subscribe.mjs: ${message}\n`);
  process.stderr.write(
    "usage: node subscribe.mjs --url WS_URL --token TOKEN [--variables JSON] [--count N] [--timeout-ms MS] 'subscription { ... }'\n",
  );
  process.exit(64);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      query: { type: 'string' },
      variables: { type: 'string' },
      count: { type: 'string', default: '0' },
      'timeout-ms': { type: 'string', default: '30000' },
    },
  });
} catch (e) {
  usage(e.message);
}
const { values, positionals } = args;
const url = values.url ?? process.env.LG_WS_URL;
const token = values.token ?? process.env.LG_TOKEN;
const query = values.query ?? positionals[0];
if (!url) usage('missing --url (or LG_WS_URL)');
if (!token) usage('missing --token (or LG_TOKEN)');
if (!query) usage('missing the subscription query');
let variables;
if (values.variables !== undefined) {
  try {
    variables = JSON.parse(values.variables);
  } catch (e) {
    usage(`--variables is not JSON: ${e.message}`);
  }
}
const count = Number.parseInt(values.count, 10);
const timeoutMs = Number.parseInt(values['timeout-ms'], 10);
if (!Number.isInteger(count) || count < 0) usage('--count must be a non-negative integer');
if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) usage('--timeout-ms must be a positive integer');

const line = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

let received = 0;
let finished = false;
let client;

function finish(code, message) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  if (message) process.stderr.write(`subscribe.mjs: ${message}\n`);
  const exit = () => process.stdout.write('', () => process.exit(code));
  // Close the socket politely, but never let a hung close keep us from exiting.
  Promise.race([
    Promise.resolve(client?.dispose()),
    new Promise((resolve) => setTimeout(resolve, 1000)),
  ]).then(exit, exit);
}

const timer = setTimeout(
  () => finish(1, `timed out after ${timeoutMs} ms with ${received} of ${count || 'unlimited'} payloads`),
  timeoutMs,
);

function describe(err) {
  // A CloseEvent (socket closed), an array of GraphQLErrors, or an Error.
  if (err && typeof err === 'object' && 'code' in err && 'reason' in err) {
    return `connection closed: ${err.code} ${err.reason}`;
  }
  if (Array.isArray(err)) return `GraphQL errors: ${JSON.stringify(err)}`;
  if (err instanceof Error) return err.message;
  // ws's ErrorEvent: { message, error }.
  if (err && typeof err.message === 'string') return err.message;
  return JSON.stringify(err);
}

client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  shouldRetry: () => false,
  on: {
    connected: () => line({ ready: true }),
    error: (err) => finish(2, `socket error: ${describe(err)}`),
  },
});

client.subscribe(
  { query, variables },
  {
    next: (payload) => {
      if (finished) return;
      line(payload);
      received += 1;
      if (count > 0 && received >= count) finish(0);
    },
    error: (err) => finish(2, describe(err)),
    complete: () =>
      count > 0 ? finish(3, `the server completed the operation after ${received} of ${count} payloads`) : finish(0),
  },
);
