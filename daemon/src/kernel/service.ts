/**
 * A long-running part of the daemon (recorder, incidents, uplink, api...). The composition root starts
 * services in order and stops them in reverse; `stop()` must release every child process, timer, socket
 * and listener the service created, and must be safe to call after a failed `start()`.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  /**
   * Why this service is not healthy now (a loop that stopped turning, a pass stuck past its bound, a
   * loop that does nothing but turn), or undefined. systemd's watchdog is fed only while every service
   * that has this check answers undefined.
   */
  liveness?(): string | undefined;
}
