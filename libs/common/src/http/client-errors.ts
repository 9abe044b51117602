import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's limit on the request line and headers together (`--max-http-header-size`). */
export const MAX_HEADER_KIB = 16;

/**
 * Requests Node's HTTP parser refuses before the app sees them answer `{"detail": …}` like every
 * other error: 431 when the request line and headers pass MAX_HEADER_KIB (a very long URL), 400
 * for anything else malformed. Without a listener Node answers these with an empty body.
 */
export function answerClientErrorsWithJson(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, detail] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            `Request line and headers exceed ${MAX_HEADER_KIB} KiB`,
          ]
        : [400, 'Bad Request', 'Malformed HTTP request'];
    const body = JSON.stringify({ detail });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
