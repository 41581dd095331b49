'use strict';
// A Switchboard bridge client built on the official, unmodified Vert.x npm client
// (@vertx/eventbus-bridge-client.js over sockjs-client), driven over stdin/stdout by
// SockJsBridgeNpmClientTest.
//
//   node bridge-client.js <baseUrl> <token> <userId> [transports] [headers|url]
//
// [transports] is sockjs-client's comma-separated list (e.g. xhr-polling), default all ('*').
// The token goes in the headers of every frame (default) or, with 'url', once in the URL.
// It connects to <baseUrl>/eventbus, registers on sb.user.<userId> with headers {token}, and
// prints one JSON object per line on stdout:
//   {"kind":"open"}
//   {"kind":"event","address":...,"body":<envelope>,"headers":...}   a frame on a registered address
//   {"kind":"reply","id":...,"body":<envelope>}                      the reply to a send
//   {"kind":"failure","id"|"address":...,"failure":{failureCode,failureType,message}}
//   {"kind":"error","frame":...}                                     an err frame for no handler
//   {"kind":"closed"}
// and reads one JSON command per line on stdin:
//   {"op":"send","id":"x","address":"sb.cmd","body":{...},"headers":{...}?}  (headers default to {token}, or {} with 'url')
//   {"op":"register","address":"sb.user.other","headers":{...}?}
//   {"op":"publish","address":"...","body":{...}}
//   {"op":"close"}
// It exits when the socket closes, when stdin ends, or after a minute in any case.

const EventBus = require('@vertx/eventbus-bridge-client.js');
const http = require('http');
const readline = require('readline');

// SockJS's polling transports close their HTTP connection after each answer (vertx-web does so
// without saying 'Connection: close'), and Node.js's default agent keeps connections alive: the
// next xhr_send could go out on a connection the server is closing and fail with ECONNRESET.
// Browsers retry such a request; here the agent simply does not reuse connections.
http.globalAgent = new http.Agent({ keepAlive: false });

const [baseUrl, token, userId, transports, tokenIn] = process.argv.slice(2);
const inUrl = tokenIn === 'url';
const defaultHeaders = inUrl ? {} : { token };
if (!baseUrl || !token || !userId) {
  console.error('usage: node bridge-client.js <baseUrl> <token> <userId>');
  process.exit(2);
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const lifetime = setTimeout(() => process.exit(3), 60000);
const options = { vertxbus_ping_interval: 2000 };
if (transports && transports !== '*') {
  options.transports = transports.split(',');
}
const url = baseUrl + '/eventbus' + (inUrl ? '?token=' + encodeURIComponent(token) : '');
const eb = new EventBus(url, options);
eb.enableReconnect(false);

function register(address, headers) {
  eb.registerHandler(address, headers || defaultHeaders, (err, msg) => {
    if (err) {
      out({ kind: 'failure', address, failure: err });
    } else {
      out({ kind: 'event', address: msg.address, body: msg.body, headers: msg.headers });
    }
  });
}

eb.onopen = () => {
  register('sb.user.' + userId);
  out({ kind: 'open', transport: eb.sockJSConn.transport });
};

eb.onerror = (frame) => out({ kind: 'error', frame });

eb.onclose = (e) => {
  out({ kind: 'closed', code: e && e.code, reason: e && e.reason });
  clearTimeout(lifetime);
  setTimeout(() => process.exit(0), 50);
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) {
    return;
  }
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    out({ kind: 'bad_command', line });
    return;
  }
  try {
    switch (cmd.op) {
      case 'send':
        eb.send(cmd.address, cmd.body, cmd.headers || defaultHeaders, (err, msg) => {
          if (err) {
            out({ kind: 'failure', id: cmd.id, failure: err });
          } else {
            out({ kind: 'reply', id: cmd.id, body: msg.body });
          }
        });
        break;
      case 'register':
        register(cmd.address, cmd.headers);
        break;
      case 'publish':
        eb.publish(cmd.address, cmd.body, cmd.headers || defaultHeaders);
        break;
      case 'close':
        eb.close();
        break;
      default:
        out({ kind: 'bad_command', line });
    }
  } catch (e) {
    out({ kind: 'client_error', message: String(e) });
  }
}).on('close', () => {
  if (eb.state === EventBus.OPEN) {
    eb.close();
  }
});
