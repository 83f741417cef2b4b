/** One numbered schema migration (see index.ts for the rules). */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
