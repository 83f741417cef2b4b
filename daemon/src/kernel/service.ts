/**
 * A long-running part of the daemon (recorder, incidents, uplink, api...). The composition root starts
 * services in order and stops them in reverse; `stop()` must release every child process, timer, socket
 * and listener the service created, and must be safe to call after a failed `start()`.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}
