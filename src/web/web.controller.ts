import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Response } from 'express';
import { NotFoundError } from '@app/common';
import { WebAssets } from './web-assets';

/**
 * Serves the browser chat page: `/` and `/chat` return the page, `/admin` the admin page (its
 * data comes from `/api/admin/*`, which admits admins only), `/web/*` the stylesheets,
 * compiled scripts and the Socket.IO client bundle. Only named files in two folders can be
 * served (no directory listing, no path traversal). Not part of the API, so not in /docs.
 */
@ApiExcludeController()
@SkipThrottle()
@Controller()
export class WebController {
  constructor(private readonly assets: WebAssets) {}

  @Get(['', 'chat'])
  page(@Res() res: Response): void {
    this.send(res, this.assets.indexHtml, 'text/html; charset=utf-8');
  }

  @Get('admin')
  adminPage(@Res() res: Response): void {
    this.send(res, this.assets.adminHtml, 'text/html; charset=utf-8');
  }

  @Get('web/vendor/socket.io.min.js')
  socketIo(@Res() res: Response): void {
    const path = this.assets.socketIoBundle();
    if (!path) throw new NotFoundError('The socket.io client bundle is not installed');
    this.send(res, path, 'application/javascript; charset=utf-8');
  }

  @Get('web/js/:file')
  script(@Param('file') file: string, @Res() res: Response): void {
    const path = this.assets.file('js', file);
    if (!path) {
      throw new NotFoundError(
        this.assets.isBuilt ? 'Not found' : 'The web client is not built yet: run "npm run build"',
      );
    }
    this.send(res, path, 'application/javascript; charset=utf-8');
  }

  @Get('web/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    const path = this.assets.file('', file);
    if (!path) throw new NotFoundError('Not found');
    this.send(
      res,
      path,
      file.endsWith('.css') ? 'text/css; charset=utf-8' : 'application/javascript; charset=utf-8',
    );
  }

  private send(res: Response, path: string, contentType: string): void {
    // `no-cache` still allows 304s via ETag/Last-Modified, and a rebuilt page is picked up at once.
    res.sendFile(path, { headers: { 'Content-Type': contentType, 'Cache-Control': 'no-cache' } });
  }
}
