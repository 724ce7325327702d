// Package deploy holds seaflow's deployment files: the systemd unit, the
// compose file of a three-node cluster, its config, and the Prometheus
// alerting rules (alerts.yaml). It has no code; its tests check the
// alerting rules against the metrics seaflow exports.
package deploy
