declare module 'pgpass' {
  /** Looks `connection` up in PGPASSFILE or ~/.pgpass (ignored unless mode 0600); calls back with the password or undefined. */
  export default function pgpass(
    connection: { host?: string | undefined; port?: string | number | undefined; database?: string | undefined; user?: string | undefined },
    callback: (password: string | undefined) => void,
  ): void;
}
