/** The slice of unix-dgram used here (the package has no types): unconnected sends to a path. */
declare module 'unix-dgram' {
  interface UnixDatagramSocket {
    /** Calls back before it returns: with an error, or a code-1 error when the receiver's queue is full. */
    send(buf: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void;
    bind(path: string): void;
    on(event: 'message', listener: (message: Buffer) => void): this;
    on(event: 'error' | 'listening', listener: (error: Error) => void): this;
    close(): void;
  }
  export function createSocket(type: 'unix_dgram'): UnixDatagramSocket;
}
