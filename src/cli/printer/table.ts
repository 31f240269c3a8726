/**
 * @module cli/printer/table
 * etcdctl's `table` format (printer_table.go). In etcdctl 3.4 only member list,
 * endpoint status/health/hashkv and snapshot status support it; everything else is
 * `table not supported as output format` (exit 4), which the base class provides.
 */

import { UnsupportedPrinter, type PrinterOptions } from './base.js';

export class TablePrinter extends UnsupportedPrinter {
  constructor(protected readonly opts: PrinterOptions) {
    super('table');
  }
}
