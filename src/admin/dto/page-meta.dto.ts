import { ApiProperty } from '@nestjs/swagger';

/** `page`, `per_page` and `total` of the admin lists (the items are the subclass's). */
export abstract class PageMetaDto {
  @ApiProperty({ example: 1 })
  page: number;

  @ApiProperty({ example: 20 })
  per_page: number;

  @ApiProperty({ example: 1, description: 'Entries matching the filters' })
  total: number;
}
