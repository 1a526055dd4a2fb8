// Drives one third-party Splunk HEC client against a server, for hecrisk's end-to-end tests
// (test/e2e). Usage:
//   node send.js CLIENT URL TOKEN RUN COUNT
// CLIENT is splunk-logging, winston-splunk-httplogger or splunk-events. Every event carries
// "run=RUN seq=N" so the test can read the batch back and check it is intact. The script prints
// one JSON line {"client":…,"sent":N,"errors":[…]} and exits 1 when any request failed.
"use strict";

const [client, url, token, run, countArg] = process.argv.slice(2);
const count = parseInt(countArg, 10);
if (!client || !url || !token || !run || !(count > 0)) {
  console.error("usage: node send.js CLIENT URL TOKEN RUN COUNT");
  process.exit(2);
}
const errors = [];
// A fixed, known base time lets the test check timestamps exactly: event N is at base + N ms.
const base = 1767225600; // 2026-01-01T00:00:00Z

function done() {
  console.log(JSON.stringify({ client, sent: count, errors }));
  process.exit(errors.length ? 1 : 0);
}

function splunkLogging() {
  const SplunkLogger = require("splunk-logging").Logger;
  const logger = new SplunkLogger({ token, url, maxBatchCount: 0, maxRetries: 0 });
  logger.error = (err) => errors.push(String(err && err.message ? err.message : err));
  for (let i = 0; i < count; i++) {
    logger.send({
      message: { text: `run=${run} seq=${i} client=splunk-logging`, seq: i, run },
      severity: "info",
      metadata: {
        time: (base + i / 1000).toFixed(3),
        host: "node-host",
        source: "splunk-logging.js",
        sourcetype: "e2e:splunk-logging",
        index: "interop",
      },
    });
  }
  logger.flush((err, resp, body) => {
    if (err) errors.push(String(err));
    else if (resp && resp.statusCode !== 200) errors.push(`HTTP ${resp.statusCode}: ${JSON.stringify(body)}`);
    done();
  });
}

function winstonClient() {
  const winston = require("winston");
  const SplunkStreamEvent = require("winston-splunk-httplogger");
  const transport = new SplunkStreamEvent({
    splunk: { token, url, source: "winston.js", sourcetype: "e2e:winston", index: "interop", host: "winston-host" },
    exitOnError: false,
  });
  transport.on("error", (err) => errors.push(String(err && err.message ? err.message : err)));
  const logger = winston.createLogger({ transports: [transport] });
  let logged = 0;
  transport.on("logged", () => {
    logged++;
    if (logged === count) done();
  });
  for (let i = 0; i < count; i++) {
    logger.info(`run=${run} seq=${i} client=winston`, { seq: i, run });
  }
  setTimeout(() => {
    errors.push(`timeout: ${logged} of ${count} logged`);
    done();
  }, 20000).unref();
}

function splunkEvents() {
  const SplunkEvents = require("splunk-events").default || require("splunk-events");
  const se = new SplunkEvents();
  let pending = 0;
  se.config({
    endpoint: url,
    token,
    autoFlush: false,
    debounceTime: 10,
    autoRetryFlush: false,
    // splunk-events names the sourcetype "source".
    source: "e2e:splunk-events",
    host: "browser-host",
    // Wrap the default fetch to observe each answer.
    request: (ctx) => {
      pending++;
      return fetch(ctx.url, { method: ctx.method, headers: ctx.headers, body: ctx.data })
        .then(async (resp) => {
          const text = await resp.text();
          if (resp.status !== 200) errors.push(`HTTP ${resp.status}: ${text}`);
          return text;
        })
        .catch((err) => errors.push(String(err)))
        .finally(() => {
          pending--;
          if (pending === 0) done();
        });
    },
  });
  for (let i = 0; i < count; i++) {
    se.logEvent("info", "e2e", "interop", "splunk-events", { run, seq: i, client: "splunk-events" });
  }
  se.flush();
  setTimeout(() => {
    errors.push("timeout: no answer");
    done();
  }, 20000).unref();
}

switch (client) {
  case "splunk-logging":
    splunkLogging();
    break;
  case "winston-splunk-httplogger":
    winstonClient();
    break;
  case "splunk-events":
    splunkEvents();
    break;
  default:
    console.error(`unknown client ${client}`);
    process.exit(2);
}
