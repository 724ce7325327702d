// Package statuspage serves seaflow's status page: one self-contained HTML
// document (inline CSS and vanilla JavaScript, no external assets) that
// polls the daemon's GET /api/status every five seconds and renders budgets,
// call history and forecast, queues, recent traces and dead letters.
//
// It also defines Status, the JSON document of GET /api/status, and the
// pure helpers History and Forecast the daemon uses to fill it.
package statuspage
