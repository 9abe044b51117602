// Docker HEALTHCHECK probe (the slim image has no curl): exit 0 when GET /health/live answers
// 200 within 3 seconds, 1 otherwise. Liveness only: a down database must not restart the app.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 8000;
const req = http.get({ host: '127.0.0.1', port, path: '/health/live', timeout: 3000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => {
  req.destroy();
  process.exit(1);
});
req.on('error', () => process.exit(1));
