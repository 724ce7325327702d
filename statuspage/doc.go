// Package statuspage serves seaflow's status page: one self-contained HTML
// document (inline CSS and vanilla JavaScript, no external assets) that
// polls the daemon's GET /api/status every five seconds and renders budgets,
// call history and forecast, queues, recent traces and dead letters.
//
// It also defines Status, the JSON document of GET /api/status, and
// assembles it: Build reads the Sources the daemon fills (its clock, config,
// budget, queues, traces and dead letters) into a Status, and Snapshot reads
// the same sources into the metrics' scrape-time gauges. The pure helpers
// History and Forecast compute a base's call history and forecast.
package statuspage
