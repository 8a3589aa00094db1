// The expected curve on the lot detail's 24-hour chart: the lot's forecast
// (GET /api/lots/{id}/forecast, docs/protocol.md "Forecast") from the count now to +15, +30
// and +60 minutes, with its band, set through `lotDetail.setOverlay`. A forecast that cannot
// be read draws nothing: the stored counts are the fact, the forecast a hint.

/** @param {{lotForecast: (id: string) => Promise<{data: object}>}} api */
export function forecastOverlay(api) {
  return async (lotId) => {
    const { data } = await api.lotForecast(lotId);
    const now = Date.parse(data.generatedAt);
    const points = [
      { t: now, value: data.occupied, low: data.occupied, high: data.occupied },
      ...data.horizons.map((h) => ({ t: Date.parse(h.at), value: h.expected, low: h.low, high: h.high })),
    ];
    return [{ name: 'Expected (forecast)', className: 'chart-expected', testid: 'chart-expected', points }];
  };
}
