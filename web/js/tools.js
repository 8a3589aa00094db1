// The dashboard's look-ups beside the live panels: the vehicle search, statements, the lot
// detail and a contractor's own page, and the layout they sit in. Each asks the REST API when
// someone uses it (not on every event); app.js creates them, the snapshot tells them when
// who the token is may have changed, the stream when vehicles came or went.

import { forecastOverlay } from './forecast-overlay.js';
import { applyLayout } from './view/layout.js';
import { createContractorPage } from './view/contractor-page.js';
import { createLotDetail } from './view/lot-detail.js';
import { createStatementPanel } from './view/statement.js';
import { createVehicleSearch } from './view/vehicle-search.js';

/** @param {{api, store}} ctx see app.js */
export function createTools(ctx) {
  const vehicles = createVehicleSearch(ctx);
  const statement = createStatementPanel(ctx);
  const lotDetail = createLotDetail(ctx);
  lotDetail.setOverlay(forecastOverlay(ctx.api));
  const contractorPage = createContractorPage(ctx);

  return {
    vehicles,
    statement,
    /** `lotDetail.setOverlay(fn)`: more series on the 24-hour chart (see view/lot-detail.js). */
    lotDetail,
    /** After every snapshot: the token (and so the layout) may be another one. */
    snapshotApplied() {
      applyLayout(ctx.store.identity);
      statement.render();
      contractorPage.refresh();
    },
    /** A vehicle entered or left a visible lot. */
    vehiclesMoved() {
      contractorPage.refresh();
    },
  };
}
