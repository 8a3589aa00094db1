// Types of the parkstream browser SSE client (sse-client.js). Payloads follow SPEC section 2.

/** RFC 3339 UTC timestamp with milliseconds, as JavaScript's `Date` prints it. */
export type Timestamp = string;

export type GateEvent = 'vehicle_entry' | 'vehicle_exit';

/** `capacity_update`: a lot's occupancy changed (or was reported). */
export interface CapacityUpdateData {
  parkingLotId: string;
  totalSlots: number;
  occupied: number;
  /** `max(totalSlots - occupied, 0)` */
  empty: number;
  /** `occupied / totalSlots` (0 when totalSlots is 0) */
  occupancyRate: number;
  timestamp: Timestamp;
  /** Present only when a gate event caused the update. */
  event?: GateEvent;
  /** Present only when a gate event caused the update. */
  plateNumber?: string;
  /** Present only when a gate event caused the update. */
  gateId?: string;
  /** Seconds parked; only on `vehicle_exit` when the entry was seen. */
  duration?: number;
}

export type AlertType = 'capacity_warning' | 'capacity_breach' | 'camera_offline' | 'violation_detected';
export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';
export type AlertStatus = 'active' | 'acknowledged' | 'resolved';

/** `alert`: raised, or changed status (sent again with the same `_id`). */
export interface AlertData {
  _id: string;
  type: AlertType;
  severity: AlertSeverity;
  parkingLotId: string;
  contractorId: string | null;
  message: string;
  status: AlertStatus;
  createdAt: Timestamp;
  acknowledgedAt: Timestamp | null;
  resolvedAt: Timestamp | null;
}

export type ViolationType = 'overparking' | 'unauthorized_vehicle' | 'capacity_breach';
export type ViolationStatus = 'pending' | 'acknowledged' | 'resolved';

export interface ViolationDetails {
  allocatedCapacity: number;
  actualOccupancy: number;
  excessVehicles: number;
  /** The breach's length in seconds once it has ended; 0 while it lasts. */
  duration: number;
}

/** `violation`: detected, or changed status (sent again with the same `_id`). */
export interface ViolationData {
  _id: string;
  /**
   * The contractor. The server sends `null` on `unauthorized_vehicle` (a plate no contractor
   * registered), although SPEC section 2 only shows a string.
   */
  contractorId: string | null;
  parkingLotId: string;
  violationType: ViolationType;
  timestamp: Timestamp;
  details: ViolationDetails;
  penalty: number;
  status: ViolationStatus;
  /** The plate concerned; sent by the server on `unauthorized_vehicle` (not in SPEC section 2). */
  plateNumber?: string;
}

/** `connected`: the first event of every connection. */
export interface ConnectedData {
  clientId: string;
  serverTime: Timestamp;
  /** Whether the server is replaying from the `lastEventId` this connection sent. */
  resumed: boolean;
}

/**
 * `reset`: events may have been missed; reload the snapshot over REST.
 * `history_unavailable` comes from the server (it cannot place our id);
 * `no_resume_point` from the client (it reconnected without any id to resume from).
 */
export interface ResetData {
  reason: 'history_unavailable' | 'no_resume_point' | (string & {});
}

/** `ping`: keep-alive, every `--ping-interval` (30 s by default). */
export interface PingData {
  timestamp: Timestamp;
}

/** The payload of each event the stream defines, by event name. */
export interface EventMap {
  connected: ConnectedData;
  capacity_update: CapacityUpdateData;
  alert: AlertData;
  violation: ViolationData;
  reset: ResetData;
  ping: PingData;
}

export type EventType = keyof EventMap;

/** The event names of the stream. */
export declare const EVENT_TYPES: readonly EventType[];

export interface EventMeta<T extends string = string> {
  /** The event name. */
  type: T;
  /** The event's id (domain events only); undefined for connected, reset and ping. */
  id: string | undefined;
  /** True on the `reset` the client raises itself (reason `no_resume_point`). */
  synthetic?: boolean;
}

export type EventCallback<T> = (data: T, meta: EventMeta) => void;

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed';

/** The states a client can be in. */
export declare const STATES: readonly ConnectionState[];

export interface ConnectingInfo {
  /** 0 for the first connection, n for the n-th reconnection attempt. */
  attempt: number;
}

export interface ConnectedInfo {
  clientId: string | null;
  resumed: boolean;
}

export interface ReconnectingInfo {
  /** 1-based number of the attempt that is scheduled. */
  attempt: number;
  /** How long until that attempt, in ms. */
  delayMs: number;
  /** When that attempt happens (epoch ms). */
  retryAt: number;
}

export interface FailedInfo {
  error: SSEConnectionError;
}

export interface StateInfoMap {
  idle: Record<string, never>;
  connecting: ConnectingInfo;
  connected: ConnectedInfo;
  reconnecting: ReconnectingInfo;
  disconnected: Record<string, never>;
  failed: FailedInfo;
}

/** `(state, info)`; checking `state` narrows `info`. */
export type StateChangeCallback = (
  ...args: { [S in ConnectionState]: [state: S, info: StateInfoMap[S]] }[ConnectionState]
) => void;

/** The terminal failure: every reconnection attempt failed. */
export interface SSEConnectionError extends Error {
  name: 'SSEConnectionError';
  /** How many reconnection attempts were made. */
  attempts: number;
  /** The HTTP status of the last refusal, when the EventSource exposes it (browsers do not). */
  status?: number;
  /** The last connection error. */
  cause: Error & { status?: number };
}

export interface ErrorContext {
  /**
   * `connection`: the terminal failure. `parse`: an event's data is not JSON.
   * `callback`: one of your callbacks threw (the error is what it threw).
   */
  kind: 'connection' | 'parse' | 'callback';
  type?: string;
  id?: string;
  /** For `parse`: the raw data. */
  data?: string;
}

export type ErrorCallback = (error: unknown, context: ErrorContext) => void;

/** An `EventSource` constructor: the browser's, or e.g. the `eventsource` package's in Node. */
export interface EventSourceLike {
  close(): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

export interface SSEClientOptions {
  /** Default `/api/sse/dashboard`, resolved against the page's location. Outside a browser it must be absolute. */
  url?: string | URL;
  /** Only events about these lots (`lots=a,b`). Empty or absent: all lots. */
  lots?: readonly string[];
  /** Only these event types (`types=x,y`). `connected`, `reset` and `ping` always arrive. */
  types?: readonly string[];
  /**
   * Sent as the `access_token` query parameter (EventSource cannot set headers); with `headers`
   * (the fetch transport) as `Authorization: Bearer`, unless `headers` has its own.
   */
  accessToken?: string;
  /** Resume point for the first connection, e.g. the `Last-Event-ID` header of a REST snapshot. */
  lastEventId?: string | number | null;
  /** Base reconnection delay in ms; attempt n waits reconnectDelay * 2^(n-1). Default 2000. */
  reconnectDelay?: number;
  /** Failed attempts before giving up (state `failed`). Default 5. `Infinity`: never give up. */
  maxAttempts?: number;
  /** The long name of `maxAttempts` (which wins when both are given). */
  maxReconnectAttempts?: number;
  /**
   * Upper bound of one delay in ms (before jitter). Default 60000. The server's `retry:` is the
   * floor of every delay when the transport can read it (the fetch transport; not EventSource).
   */
  maxReconnectDelay?: number;
  /** Each delay is multiplied by a random factor in [1-jitter, 1+jitter]. Default 0.2. */
  jitter?: number;
  /**
   * Reconnect when nothing (not even a ping) arrives for this many ms, and give up on a connection
   * attempt that gets no `connected` within it. 0 (default) turns it off. Set it above the
   * server's ping interval, e.g. 2.5 times it.
   */
  heartbeatTimeout?: number;
  /** EventSource's `withCredentials` (cookies on a cross-origin stream). Default false. */
  withCredentials?: boolean;
  /** The EventSource constructor. Default `globalThis.EventSource`. */
  EventSource?: EventSourceConstructor;
  /**
   * Request headers, e.g. `{ Authorization: 'Bearer ...' }`. When given (even `{}`), the stream
   * is read with `fetch` and a text/event-stream parser instead of EventSource, so a token need
   * not travel in the URL; the server's `retry:` then also becomes the backoff's floor.
   */
  headers?: Record<string, string> | Headers | ReadonlyArray<readonly [string, string]>;
  /** Aborting it closes the client for good: the stream and any pending reconnection; `connect()` then does nothing. */
  signal?: AbortSignal;
  /** The fetch of the headers transport. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

export declare class SSEClient {
  constructor(options?: SSEClientOptions);

  /** The connection state. */
  readonly state: ConnectionState;
  /** The id of the last event received: where the next connection resumes. */
  readonly lastEventId: string | null;
  /** The server's id of the current (or last) connection. */
  readonly clientId: string | null;

  /** Opens the stream (no-op while connecting, connected or reconnecting). */
  connect(): this;
  /** Closes the stream and cancels any pending reconnection. */
  disconnect(): this;

  on<K extends EventType>(type: K, callback: EventCallback<EventMap[K]>): () => void;
  on(type: 'error', callback: ErrorCallback): () => void;
  /** Any other event name: its data parsed as JSON. */
  on<T = unknown>(type: string, callback: EventCallback<T>): () => void;

  off<K extends EventType>(type: K, callback: EventCallback<EventMap[K]>): this;
  off(type: 'error', callback: ErrorCallback): this;
  off(type: string, callback: EventCallback<any>): this;

  onConnected(callback: EventCallback<ConnectedData>): () => void;
  onCapacityUpdate(callback: EventCallback<CapacityUpdateData>): () => void;
  onAlert(callback: EventCallback<AlertData>): () => void;
  onViolation(callback: EventCallback<ViolationData>): () => void;
  onReset(callback: EventCallback<ResetData>): () => void;
  onPing(callback: EventCallback<PingData>): () => void;

  onStateChange(callback: StateChangeCallback): () => void;
  onError(callback: ErrorCallback): () => void;
}

export declare function createSSEClient(options?: SSEClientOptions): SSEClient;

export default createSSEClient;
