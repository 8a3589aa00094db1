// Uses the generated types the way a client would, so `tsc --strict` checks that they name
// what the server answers, not only that the file parses.
import type { components, operations, paths } from "./build/api";

type Lot = paths["/api/lots/{id}"]["get"]["responses"][200]["content"]["application/json"];
type ErrorBody = components["schemas"]["ErrorBody"];
type StreamEvent = components["schemas"]["StreamEvent"];
type PutLot = operations["putLot"]["requestBody"];

export function describe(lot: Lot): string {
  return `${lot.parkingLotId}: ${lot.occupied}/${lot.totalSlots}`;
}

export function errorCode(body: ErrorBody): string {
  return body.error.code;
}

export function isPing(event: StreamEvent): boolean {
  return "timestamp" in event && Object.keys(event).length === 1;
}

export const newLot: NonNullable<PutLot>["content"]["application/json"] = {
  name: "North garage",
  totalSlots: 120,
};
